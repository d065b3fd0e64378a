"""Scenario 9: a backlog drained end to end by one run triggered with ``drain``, against the no-op twin.

One deployment as scenario 3's (API server, scheduler with LocalExecutor and dag-processor,
PostgreSQL metadata, pool 4, the sandbox in its own process at 0 ms) parses the real DAG and its
no-op twin (``bench.twin``). The real DAG gets the whole backlog loaded at once and one run
triggered with ``drain`` on: its runs of ``batch`` customers chain themselves (``start_next_run``)
until nobody waits. The twin has no ``drain``; the benchmark triggers it the same number of times,
each as soon as it sees the previous run end. A drain's time is the first run's ``queued_at`` to the
last run's ``end_date`` (server clock), reported as customers per second. The metadata database's
growth (``pg_database_size`` before and after, and rows in its tables) is reported per customer.
No target: the figures are for planning a partner's first drain.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import VAR, Result, customer, postgres_server, sandbox_connection, sandbox_process
from bench.twin import REAL_DAG_ID, TWIN_DAG_ID, write_dags_folder

NUMBER = 9
POOL = "avepoint_api"
TERMINAL = ("success", "failed")
NEXT_TASK = "start_next_run"


@dataclass
class Drained:
    """One drain: how long it took, its runs, and what the metadata database gained."""

    seconds: float
    runs: list[dict[str, Any]]
    bytes_added: int
    rows_added: int


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class MetadataSize:
    """The metadata database's size in bytes and its rows, over every table of its schema."""

    def __init__(self, url: str) -> None:
        self.url = url

    def measure(self) -> tuple[int, int]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            size = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT quote_ident(table_name) FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                )
            ]
            rows = sum(int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables)
        return size, rows


def _new_runs(airflow: Any, dag_id: str, before: set[str]) -> list[dict[str, Any]]:
    return [r for r in airflow.runs(dag_id) if r["dag_run_id"] not in before]


def drain_real(
    airflow: Any, store: Any, size: MetadataSize, *, customers: int, batch: int, timeout: float
) -> Drained:
    """Load ``customers`` and trigger one ``drain`` run; wait for the whole chain; check every row."""
    expected = math.ceil(customers / batch)
    when = datetime.now(UTC) - timedelta(minutes=1)
    store.add_customers(customer(f"DR-{i:05d}", requested_at=when) for i in range(customers))
    before_runs = {r["dag_run_id"] for r in airflow.runs(REAL_DAG_ID)}
    bytes_before, rows_before = size.measure()
    airflow.trigger(REAL_DAG_ID, conf={"max_customers": batch, "drain": True})

    def chain_done() -> list[dict[str, Any]] | None:
        runs = _new_runs(airflow, REAL_DAG_ID, before_runs)
        if any(r["state"] == "failed" for r in runs):
            raise RuntimeError(f"a drained run failed: {[(r['dag_run_id'], r['state']) for r in runs]}")
        return runs if len(runs) >= expected and all(r["state"] in TERMINAL for r in runs) else None

    airflow.wait_until(chain_done, timeout, f"the drain of {customers} customers", interval=5)
    # The last run decided before it ended: its start_next_run skipped, so no run can follow.
    runs = sorted(_new_runs(airflow, REAL_DAG_ID, before_runs), key=lambda r: r["queued_at"])
    decisions = [
        next(
            t["state"]
            for t in airflow.task_instances(REAL_DAG_ID, r["dag_run_id"])
            if t["task_id"] == NEXT_TASK
        )
        for r in runs
    ]
    if len(runs) != expected or decisions != ["success"] * (expected - 1) + ["skipped"]:
        raise RuntimeError(
            f"expected {expected} chained runs, the last one ending the chain; got {decisions}"
        )
    for earlier, later in zip(runs, runs[1:], strict=False):
        if _time(later["start_date"]) < _time(earlier["end_date"]):
            raise RuntimeError(f"runs overlapped: {earlier['dag_run_id']} and {later['dag_run_id']}")
    statuses = {str(r["status"]) for r in store.rows([f"DR-{i:05d}" for i in range(customers)])}
    if statuses != {"onboarded"}:
        raise RuntimeError(f"the drain left rows in {sorted(statuses)}")
    bytes_after, rows_after = size.measure()
    seconds = (_time(runs[-1]["end_date"]) - _time(runs[0]["queued_at"])).total_seconds()
    return Drained(seconds, runs, bytes_after - bytes_before, rows_after - rows_before)


def drain_twin(airflow: Any, size: MetadataSize, *, customers: int, batch: int, timeout: float) -> Drained:
    """The twin triggered run after run, each for ``batch`` customers, as soon as the previous one ended."""
    bytes_before, rows_before = size.measure()
    runs = []
    left = customers
    while left > 0:
        run_id = airflow.trigger(TWIN_DAG_ID, conf={"max_customers": min(batch, left)})
        run = airflow.wait_until(
            lambda run_id=run_id: (r := airflow.run(TWIN_DAG_ID, run_id))["state"] in TERMINAL and r,
            timeout,
            f"twin run {run_id}",
            interval=0.5,
        )
        if run["state"] != "success":
            raise RuntimeError(f"twin run {run_id} ended {run['state']}")
        runs.append(run)
        left -= batch
    bytes_after, rows_after = size.measure()
    seconds = (_time(runs[-1]["end_date"]) - _time(runs[0]["queued_at"])).total_seconds()
    return Drained(seconds, runs, bytes_after - bytes_before, rows_after - rows_before)


def run(*, customers: int, batch: int, warmup: bool = True) -> list[Result]:
    """Scenario 9 in a deployment of its own; the twin first, then the real drain (after an untimed
    warm-up run of each, unless ``warmup`` is off: the smoke run only proves the scenario works)."""
    from include.onboarding.warehouse import CustomerWarehouse
    from tests.support.deployment import Deployment
    from tests.support.postgres import fresh_postgres_database, postgres_connection

    server = postgres_server()
    home, dags = VAR / "deployment-drain", VAR / "deployment-drain-dags"
    for folder in (home, dags):
        shutil.rmtree(folder, ignore_errors=True)
    home.mkdir(parents=True)
    write_dags_folder(dags)
    timeout = 180 + customers * 2
    with (
        sandbox_process() as sandbox,
        fresh_postgres_database(server) as metadata,
        fresh_postgres_database(server) as warehouse_url,
    ):
        warehouse_conn = postgres_connection(warehouse_url)
        airflow = Deployment(
            home=home,
            metadata_url=metadata.replace("postgresql://", "postgresql+psycopg://", 1),
            connections={
                "avepoint_default": sandbox_connection(sandbox),
                "customer_warehouse": warehouse_conn,
            },
            pools={POOL: 4},
            parallelism=8,
            dags_folder=dags,
            extra_env={"AVEPOINT_ONBOARDING_RETRY_DELAY_SECONDS": "5", "PYTHONDONTWRITEBYTECODE": ""},
        )
        os.environ["AIRFLOW_CONN_CUSTOMER_WAREHOUSE"] = json.dumps(warehouse_conn)
        try:
            store = CustomerWarehouse("customer_warehouse")
            store.prepare()
            airflow.start()
            for dag_id in (REAL_DAG_ID, TWIN_DAG_ID):
                airflow.unpause(dag_id)
            size = MetadataSize(metadata)
            # Untimed warm-up: each DAG's first run pays for caches the drains should not.
            warm = datetime.now(UTC) - timedelta(minutes=1)
            store.add_customers(customer(f"WARM-{i}", requested_at=warm) for i in range(2 if warmup else 0))
            for dag_id in (REAL_DAG_ID, TWIN_DAG_ID) if warmup else ():
                warm_run = airflow.trigger(dag_id, conf={"max_customers": 2})
                if airflow.wait_for_run(dag_id, warm_run, timeout)["state"] != "success":
                    raise RuntimeError(f"the warm-up run of {dag_id} failed; see {airflow.home}/logs")
            twin = drain_twin(airflow, size, customers=customers, batch=batch, timeout=timeout)
            real = drain_real(airflow, store, size, customers=customers, batch=batch, timeout=timeout * 2)
            duplicates = sandbox.control().inspect()["posts_after_creation"]
        finally:
            airflow.stop()
            os.environ.pop("AIRFLOW_CONN_CUSTOMER_WAREHOUSE", None)
    if duplicates:
        raise RuntimeError(f"the sandbox saw customers created twice: {duplicates}")
    runs = len(real.runs)
    rate, twin_rate = customers / real.seconds, customers / twin.seconds
    notes = [
        f"one run triggered with drain on, max_customers {batch}: {runs} runs chained themselves, one at a "
        f"time, in {real.seconds:.0f} s ({rate:.2f} customers/s); the no-op twin, triggered {len(twin.runs)} "
        f"times back to back by the benchmark, {twin.seconds:.0f} s ({twin_rate:.2f} customers/s). "
        "the ratio is the project's pace over the twin's (below 1: slower); the twin and the drain run one "
        "after the other on a shared machine, so a few percent either way is noise",
        f"metadata database growth: {real.bytes_added / customers:,.0f} bytes and "
        f"{real.rows_added / customers:.1f} rows per customer (twin: {twin.bytes_added / customers:,.0f} bytes, "
        f"{twin.rows_added / customers:.1f} rows); pg_database_size counts whole 8 KiB pages, so small runs "
        "round coarsely",
    ]
    return [
        Result(
            NUMBER,
            f"a backlog drained end to end by one `drain` run (runs of {batch} chained), LocalExecutor, "
            "PostgreSQL metadata, pool 4, sandbox 0 ms",
            f"{customers} customers",
            round(rate, 2),
            round(twin_rate, 2),
            "customers/s",
            "report",
            notes=notes,
        ),
        Result(
            f"{NUMBER}m",
            "metadata database growth per customer in that drain (pg_database_size)",
            f"{customers} customers",
            round(real.bytes_added / customers),
            round(twin.bytes_added / customers) or None,
            "B/customer",
            "report",
        ),
    ]
