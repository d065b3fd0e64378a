"""Test-wide setup: an isolated AIRFLOW_HOME, connections from environment variables, fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Before anything imports Airflow: every test run gets its own AIRFLOW_HOME inside the repo.
os.environ["AIRFLOW_HOME"] = str(ROOT / "var" / "test-airflow")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ["AVEPOINT_ONBOARDING_RETRY_DELAY_SECONDS"] = "1"

import pytest  # noqa: E402

from tests.support.fake_http import FakeAvePoint  # noqa: E402

FAKE_GRAPH = "http://avepoint.test"


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
