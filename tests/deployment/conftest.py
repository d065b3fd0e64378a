"""The deployment under test: a real Airflow (API server, scheduler with LocalExecutor, dag-processor)
on a fresh PostgreSQL metadata database, a PostgreSQL warehouse behind a cuttable proxy, and the
sandbox as AvePoint with certificate auth. One per session; torn down even when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from avepoint_sandbox import SandboxConfig, SandboxControl, SandboxServer
from include.onboarding.warehouse import CustomerWarehouse
from tests.support.deployment import Deployment, free_port
from tests.support.postgres import fresh_postgres_database, postgres_connection, require_postgres
from tests.support.rows import make_customer, run_sql
from tests.support.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "avepoint_customer_onboarding"
CLAIM_TIMEOUT_MINUTES = 0.5
RETRY_DELAY_SECONDS = 3


@dataclass
class Stack:
    """Everything a deployment test touches, plus what the secret scan must look for."""

    airflow: Deployment
    sandbox: SandboxServer
    control: SandboxControl
    warehouse: CustomerWarehouse
    proxy: TcpProxy
    metadata_url: str
    private_key: str
    passwords: list[str] = field(default_factory=list)

    def add(self, customers: list[dict]) -> None:
        """Load customers as pending and remember their passwords for the secret scan."""
        self.passwords += [c["password"] for c in customers if c.get("password")]
        self.warehouse.add_customers(customers)

    def rows(self, prefix: str) -> dict[str, dict]:
        return {r["customer_key"]: r for r in self.sql_rows(prefix)}

    def sql_rows(self, prefix: str) -> list[dict]:
        keys = [
            r[0]
            for r in self.query(
                f"SELECT customer_key FROM {self.warehouse.table} WHERE customer_key LIKE :p",
                {"p": f"{prefix}%"},
            )
        ]
        return self.warehouse.rows(keys)

    def events(self, prefix: str) -> list[dict]:
        sql = (
            f"SELECT customer_key, run_id, attempt, outcome, message FROM {self.warehouse.events_table} "
            "WHERE customer_key LIKE :p ORDER BY event_id"
        )
        return [dict(zip(("customer_key", "run_id", "attempt", "outcome", "message"), r, strict=True))
                for r in self.query(sql, {"p": f"{prefix}%"})]  # fmt: skip

    def query(self, sql: str, params: dict | None = None) -> list[tuple]:
        return run_sql(self.warehouse, sql, params)

    def run_dag(self, timeout: float = 600, **params) -> tuple[str, str]:
        run_id = self.airflow.trigger(DAG_ID, conf=params)
        return run_id, self.airflow.wait_for_run(DAG_ID, run_id, timeout)["state"]


def customer(key: str, **changes) -> dict:
    return make_customer(key, domain="deploy.example", **{"requested_at": datetime.now(UTC)} | changes)


@pytest.fixture(scope="session")
def stack(rsa_private_pem, rsa_public_pem):
    with deployment_stack(ROOT / "var" / "deployment-test", rsa_private_pem, rsa_public_pem) as built:
        yield built


@contextlib.contextmanager
def deployment_stack(
    home: Path, rsa_private_pem: str, rsa_public_pem: str, **deployment: Any
) -> Iterator[Stack]:
    """The stack with its Airflow in ``home``; ``deployment`` adds :class:`Deployment` options
    (e.g. the CeleryExecutor and its workers).
    """
    server_url = require_postgres()
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    sandbox = SandboxServer(
        SandboxConfig(port=free_port(), client_public_key_pem=rsa_public_pem, random_seed=2026)
    ).start()
    with (
        fresh_postgres_database(server_url) as metadata,
        fresh_postgres_database(server_url) as warehouse_url,
    ):
        warehouse_conn = postgres_connection(warehouse_url)
        proxy = TcpProxy(warehouse_conn["host"], warehouse_conn["port"])
        airflow = Deployment(
            home=home,
            metadata_url=metadata.replace("postgresql://", "postgresql+psycopg://", 1),
            connections={
                # Certificate auth, AvePoint's recommended method: the private key is a secret to scan for.
                "avepoint_default": {
                    "conn_type": "avepoint",
                    "host": sandbox.url,
                    "login": "sandbox-client",
                    "extra": {
                        "token_url": sandbox.token_url,
                        "private_key": rsa_private_pem,
                        "timeout": 3,
                        "retry_max_attempts": 4,
                        "retry_initial_backoff": 0.2,
                        "retry_max_backoff": 1,
                        "retry_max_elapsed": 20,
                        # Bounds one call (and so the raised claim timeout the killed-worker test waits for).
                        "lookup_max_elapsed": 10,
                        "retry_after_cap": 2,
                    },
                },
                "customer_warehouse": warehouse_conn | {"host": "127.0.0.1", "port": proxy.port},
            },
            variables={"avepoint_onboarding": {"claim_timeout_minutes": CLAIM_TIMEOUT_MINUTES}},
            extra_env={"AVEPOINT_ONBOARDING_RETRY_DELAY_SECONDS": str(RETRY_DELAY_SECONDS)}
            | deployment.pop("extra_env", {}),
            **deployment,
        )
        airflow.connections["airflow_api"] = {"conn_type": "http", "host": airflow.api_url}
        # The test process reaches the warehouse directly, never through the proxy.
        os.environ["AIRFLOW_CONN_CUSTOMER_WAREHOUSE"] = json.dumps(warehouse_conn)
        store = CustomerWarehouse("customer_warehouse")
        store.prepare()
        try:
            airflow.start()
            airflow.unpause(DAG_ID)
            yield Stack(
                airflow=airflow,
                sandbox=sandbox,
                control=sandbox.control(),
                warehouse=store,
                proxy=proxy,
                metadata_url=metadata,
                private_key=rsa_private_pem,
            )
        finally:
            airflow.stop()
            proxy.close()
            sandbox.stop()
            os.environ.pop("AIRFLOW_CONN_CUSTOMER_WAREHOUSE", None)


# Each test's CPU seconds, summed over every process of its deployment: unlike wall time, barely moved
# by whatever else shares the machine, so test costs can be compared between runs and machines.
CPU_SECONDS: dict[str, float] = {}


@pytest.fixture(autouse=True)
def deployment_cpu(request):
    """Record the CPU the deployment a test uses spends during it (printed after the run)."""
    names = [n for n in ("stack", "celery_stack") if n in request.fixturenames]
    if not names:
        yield
        return
    deployment = request.getfixturevalue(names[0]).airflow
    before = deployment.cpu_seconds()
    yield
    CPU_SECONDS[request.node.nodeid] = deployment.cpu_seconds() - before


def pytest_terminal_summary(terminalreporter):
    if CPU_SECONDS:
        terminalreporter.section("deployment CPU seconds per test")
        for nodeid, seconds in sorted(CPU_SECONDS.items(), key=lambda item: -item[1]):
            terminalreporter.write_line(f"{seconds:8.1f} s  {nodeid}")


@pytest.fixture
def faults(stack):
    """Faults set by a test are cleared afterwards, and the sandbox is back up."""
    yield stack.control
    if not stack.sandbox.running:
        stack.sandbox.start()
    stack.control.clear_faults()
    stack.control.enable_client()
