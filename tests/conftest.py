"""Test-wide setup: an isolated AIRFLOW_HOME, connections from environment variables, fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Before anything imports Airflow: every test run gets its own AIRFLOW_HOME inside the repo.
# Under pytest-xdist (`make test` runs two workers) each worker has its own: dag.test() writes there.
os.environ["AIRFLOW_HOME"] = str(ROOT / "var" / f"test-airflow{os.environ.get('PYTEST_XDIST_WORKER', '')}")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ["AVEPOINT_ONBOARDING_RETRY_DELAY_SECONDS"] = "1"

import pytest  # noqa: E402

from tests.support.fake_http import FakeAvePoint  # noqa: E402
from tests.support.platform_venv import dist, platform_venv, provider_wheel  # noqa: E402, F401 (fixtures)
from tests.support.postgres import (  # noqa: E402
    fresh_postgres_database,
    require_postgres,
)

FAKE_GRAPH = "http://avepoint.test"

# Tests that share one expensive thing run on one pytest-xdist worker (`--dist loadgroup`), in their
# usual order. The tests that start whole deployments on PostgreSQL (the deployment stack, the Celery
# cluster, make cluster, the bench's deployments) are one group, "airflow": two such deployments at
# once on a 2-core machine each run at half speed (a Celery test failed so under three workers). The
# tests of `airflow standalone` started as make airflow starts it (the browser tests' Airflow, make
# airflow's signals) are a second group, which `make test` runs beside them on the other worker once
# the platform virtualenv's tests ("packaging") are done; the remaining tests go to whichever worker
# is free. The first group a test belongs to wins.
XDIST_GROUPS = (
    (
        "standalone",
        lambda item, path: path.startswith(("tests/browser/", "tests/local/test_local_airflow.py")),
    ),
    (
        "airflow",
        lambda item, path: (
            path.startswith("tests/local/")
            or any(item.get_closest_marker(name) is not None for name in ("bench", "celery", "deployment"))
        ),
    ),
    ("packaging", lambda item, path: item.get_closest_marker("packaging") is not None),
)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the marks into work units
def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("xdist"):
        return  # e.g. the platform venv's own run of the tests, which has no xdist
    for item in items:
        path = Path(str(item.path)).relative_to(ROOT).as_posix()
        group = next((name for name, belongs in XDIST_GROUPS if belongs(item, path)), None)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields) -> None:
    """Define an Airflow connection the way a deployment would: an AIRFLOW_CONN_* variable."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


@pytest.fixture
def fake_avepoint(monkeypatch: pytest.MonkeyPatch):
    """A hook factory whose HTTP layer is an in-process fake; retries wait 0 s."""
    from avepoint_provider.hooks.avepoint import AvePointHook
    from avepoint_provider.retry import RetryPolicy

    fake = FakeAvePoint()
    waits: list[float] = []
    monkeypatch.setattr("avepoint_provider.retry.time.sleep", waits.append)

    def make(*, extra: dict | None = None, policy: RetryPolicy | None = None, **conn) -> AvePointHook:
        fields = {
            "conn_type": "avepoint",
            "host": FAKE_GRAPH,
            "login": "client-id-1",
            "password": "client-secret-value-1",
            "extra": {"token_url": f"{FAKE_GRAPH}/connect/token", "timeout": 5} | (extra or {}),
        } | conn
        set_connection(monkeypatch, "avepoint_fake", **fields)
        hook = AvePointHook("avepoint_fake", retry_policy=policy)
        hook.session.mount(FAKE_GRAPH, fake)
        return hook

    fake.make_hook = make
    fake.waits = waits
    return fake


# -- the AvePoint sandbox ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sandbox_server():
    """One in-process sandbox for the session; tests that use it get a fresh state."""
    from avepoint_sandbox import SandboxConfig, SandboxServer

    with SandboxServer(SandboxConfig(random_seed=11)) as server:
        yield server


def avepoint_connection(server, **extra) -> dict:
    """The ``avepoint_default`` connection for a sandbox, with short timeouts and backoffs."""
    return {
        "conn_type": "avepoint",
        "host": server.url,
        "login": "sandbox-client",
        "password": "sandbox-secret",
        "extra": {
            "token_url": server.token_url,
            "timeout": 2,
            "retry_initial_backoff": 0.05,
            "retry_max_backoff": 0.2,
        }
        | extra,
    }


@pytest.fixture
def sandbox(sandbox_server, monkeypatch):
    """The session sandbox, reset, with ``avepoint_default`` pointing at it; yields its control client."""
    control = sandbox_server.control()
    control.reset()
    control.enable_client()
    set_connection(monkeypatch, "avepoint_default", **avepoint_connection(sandbox_server))
    control.server = sandbox_server
    yield control
    control.close()


@pytest.fixture(scope="session")
def rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def rsa_public_pem(rsa_key) -> str:
    from cryptography.hazmat.primitives import serialization

    public = rsa_key.public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture(scope="session")
def rsa_private_pem(rsa_key) -> str:
    from cryptography.hazmat.primitives import serialization

    return rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


# -- warehouses ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """A reachable PostgreSQL (``AVEPOINT_TEST_POSTGRES``); skipped when absent, required under CI."""
    return require_postgres()


@pytest.fixture
def postgres_db(postgres_server):
    """A fresh database for one test, dropped afterwards."""
    with fresh_postgres_database(postgres_server) as url:
        yield url


@pytest.fixture(scope="session")
def mariadb_server() -> str:
    """A reachable MariaDB (``AVEPOINT_TEST_MARIADB``); skipped when absent, required under CI. Its version."""
    from tests.support.mariadb import require_mariadb

    return require_mariadb()


@pytest.fixture
def mariadb_db(mariadb_server):
    """A fresh MariaDB database for one test (its name), dropped afterwards."""
    from tests.support.mariadb import fresh_mariadb_database

    with fresh_mariadb_database() as name:
        yield name


@pytest.fixture
def snowflake_account():
    """A fresh emulated Snowflake account (fakesnow) for one test, patched into this process."""
    from tests.support.snowflake import snowflake_emulator

    with snowflake_emulator():
        yield


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request, tmp_path, monkeypatch):
    """An empty ``customer_warehouse`` (SQLite file or fresh PostgreSQL database) with its tables.

    Tests parametrised with ``indirect=True`` may ask for ``mariadb`` or ``snowflake`` too
    (tests/support/warehouses.py).
    """
    from tests.support.warehouses import empty_warehouse

    return empty_warehouse(request.param, request, tmp_path, monkeypatch)


# -- Airflow's metadata database --------------------------------------------------------------------


@pytest.fixture(scope="session")
def airflow_db():
    """A fresh SQLite metadata database in the test AIRFLOW_HOME, for dag.test()."""
    import shutil
    import subprocess
    import sys

    home = Path(os.environ["AIRFLOW_HOME"])
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    # An earlier test may have opened the old (now deleted) file through Airflow's engine;
    # reconnecting makes this process see the migrated database.
    from airflow import settings

    settings.reconfigure_orm()
    return home


# -- alerts: a real SMTP server -----------------------------------------------------------------------


@pytest.fixture
def smtp_server(monkeypatch):
    """An aiosmtpd server on a free 127.0.0.1 port, ``smtp_default`` pointing at it; yields its inbox."""
    from aiosmtpd.controller import Controller

    from tests.support.smtp import Inbox, free_port, smtp_connection

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    set_connection(monkeypatch, "smtp_default", **smtp_connection(port))
    inbox.port = port
    yield inbox
    controller.stop()
