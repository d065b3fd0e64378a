"""What the DAG tests share: the project's DagBag, loaded once per module, and a waiting customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import ROOT
from tests.support.rows import make_customer

ONBOARDING_DAG_ID = "avepoint_customer_onboarding"


def customer(key: str, **changes) -> dict:
    """A valid customer row requested five minutes ago (inside a manual run's window)."""
    return make_customer(key, requested_at=datetime.now(UTC) - timedelta(minutes=5), **changes)


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors
    return bag


@pytest.fixture(scope="module")
def dag(dagbag):
    """The onboarding DAG."""
    return dagbag.dags[ONBOARDING_DAG_ID]
