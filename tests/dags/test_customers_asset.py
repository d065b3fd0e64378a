"""The Asset avepoint://elements/customers: the onboarding run's event and the example downstream DAG."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.dags.conftest import customer

ASSET_URI = "avepoint://elements/customers"


def asset_events(run_id: str) -> list[dict]:
    """The run's events on this Asset (a run may also ask for a review, an event on another one)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetEvent, AssetModel.uri)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetEvent.source_run_id == run_id, AssetModel.uri == ASSET_URI)
            .all()
        )
        return [{"uri": uri, "task": e.source_task_id, "extra": e.extra} for e, uri in rows]


def task_state(run_id: str, task_id: str) -> str | None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(run_id=run_id, task_id=task_id).one()
        return ti.state


@pytest.mark.integration
@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_a_run_that_onboarded_customers_emits_one_event_with_their_keys_and_ids(dagbag, sandbox, warehouse):
    warehouse.add_customers([customer("OK-1"), customer("OK-2"), customer("BAD-1", country_code="us")])

    run = dagbag.dags["avepoint_customer_onboarding"].test(
        run_conf={"dry_run": False, "max_customers": 500, "customer_keys": []}
    )

    assert run.state == "success"
    ids = {r["customer_key"]: r["avepoint_customer_id"] for r in warehouse.rows(["OK-1", "OK-2"])}
    assert all(ids.values())
    [event] = asset_events(run.run_id)
    assert (event["uri"], event["task"]) == (ASSET_URI, "announce_customers")
    assert event["extra"] == {
        "run_id": run.run_id,
        "counts": {"onboarded": 2, "invalid": 1},
        "onboarded": 2,
        "customers": [
            {"customer_key": "OK-1", "avepoint_customer_id": ids["OK-1"]},
            {"customer_key": "OK-2", "avepoint_customer_id": ids["OK-2"]},
        ],
    }
    assert "@" not in str(event["extra"])


@pytest.mark.integration
@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_a_run_that_onboarded_nobody_emits_no_event(dagbag, sandbox, warehouse):
    warehouse.add_customers([customer("BAD-1", country_code="us")])

    run = dagbag.dags["avepoint_customer_onboarding"].test(
        run_conf={"dry_run": False, "max_customers": 500, "customer_keys": []}
    )

    assert run.state == "success"
    assert task_state(run.run_id, "announce_customers") == "skipped"
    assert asset_events(run.run_id) == []


def test_the_welcome_dag_is_scheduled_on_the_asset(dagbag):
    from include.onboarding.assets import CUSTOMERS_ASSET

    welcome = dagbag.dags["avepoint_welcome_customers"]
    assert list(welcome.timetable.asset_condition.objects) == [CUSTOMERS_ASSET]
    outlets = dagbag.dags["avepoint_customer_onboarding"].get_task("announce_customers").outlets
    assert outlets == [CUSTOMERS_ASSET]


def test_the_welcome_step_queues_each_onboarded_key_once_from_the_triggering_events():
    from include.onboarding.assets import CUSTOMERS_ASSET, queue_welcome

    events = [
        SimpleNamespace(
            extra={
                "run_id": "r1",
                "customers": [
                    {"customer_key": "A", "avepoint_customer_id": "id-a"},
                    {"customer_key": "B", "avepoint_customer_id": "id-b"},
                ],
            }
        ),
        SimpleNamespace(
            extra={"run_id": "r2", "customers": [{"customer_key": "A", "avepoint_customer_id": "id-a"}]}
        ),
    ]

    work = queue_welcome({"triggering_asset_events": {CUSTOMERS_ASSET: events}})

    assert work == [
        {"customer_key": "A", "avepoint_customer_id": "id-a", "onboarding_run_id": "r1"},
        {"customer_key": "B", "avepoint_customer_id": "id-b", "onboarding_run_id": "r1"},
    ]


@pytest.mark.integration
def test_a_manual_run_of_the_welcome_dag_queues_nothing_and_succeeds(dagbag):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    run = dagbag.dags["avepoint_welcome_customers"].test()

    assert run.state == "success"
    with create_session() as session:
        [xcom] = session.query(XComModel).filter_by(run_id=run.run_id, task_id="queue_welcome").all()
        assert xcom.value in ([], "[]")
