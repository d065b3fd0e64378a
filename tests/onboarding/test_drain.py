"""Draining a backlog: the decision to start the next run, driven through real warehouse claims.

The onboarding tasks are the only step left out: each claimed row gets its outcome recorded the way
the operator records it (``record_outcome`` on a row the run holds), so a run of 1,000 customers
costs seconds instead of 1,000 mapped tasks. The real ``claim_customers``, ``finish_run`` and
``start_next_run`` run against a SQLite warehouse; the next run is what ``start_next_run`` hands the
task runner (``DagRunTriggerException``), exactly as a worker would receive it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from include.onboarding import drain, pipeline
from include.onboarding.names import CLAIM_TASK_ID, VALIDATE_TASK_ID
from tests.support.rows import make_customer

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)]

DAG_ID = "avepoint_customer_onboarding"


@dataclass
class TaskInstance:
    """What the steps ask of ``context["ti"]``: XCom between the run's tasks, a try number."""

    xcom: dict[tuple[str, str], Any] = field(default_factory=dict)
    try_number: int = 1

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.xcom.get((task_ids, key))

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[("start_next_run", key)] = value


@dataclass
class Dag:
    dag_id: str = DAG_ID


def run_context(run_id: str, **params: Any) -> dict[str, Any]:
    """A manual run triggered now (no logical date: its window ends at ``run_after``)."""

    @dataclass
    class DagRun:
        run_after: datetime

    return {
        "params": {"dry_run": False, "max_customers": 1000, "customer_keys": [], "drain": True} | params,
        "run_id": run_id,
        "data_interval_end": None,
        "dag_run": DagRun(datetime.now(UTC)),
        "dag": Dag(),
        "ti": TaskInstance(),
    }


def run_once(store, context: dict[str, Any], outcome: str = "onboarded") -> dict[str, Any]:
    """claim_customers, every claimed row settled with ``outcome``, then finish_run; returns its result."""
    ti = context["ti"]
    claim = pipeline.claim_customers(context)
    ti.xcom[(CLAIM_TASK_ID, "return_value")] = claim
    ti.xcom[(VALIDATE_TASK_ID, "report")] = {"valid": len(claim["keys"]), "invalid": 0}
    for number, key in enumerate(claim["keys"]):
        assert store.record_outcome(
            key,
            context["run_id"],
            status=outcome,
            reason=f"{outcome} in the test",
            attempt=1,
            try_number=1,
            customer_id=f"id-{key}" if outcome == "onboarded" else None,
            api_status=1 if outcome == "onboarded" else 2,
        ), number
    finished = pipeline.finish_run(context)
    ti.xcom[("finish_run", "return_value")] = finished
    return finished


def next_run(context: dict[str, Any]):
    """What start_next_run does: the trigger it hands the task runner, or the skip with its reason."""
    from airflow.sdk.exceptions import AirflowSkipException, DagRunTriggerException

    try:
        drain.start_next_run(context)
    except DagRunTriggerException as trigger:
        return trigger
    except AirflowSkipException as skip:
        return str(skip)
    raise AssertionError("start_next_run neither triggered a run nor skipped")


def load(store, count: int, prefix: str = "C") -> None:
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    store.add_customers(make_customer(f"{prefix}-{i:04d}", requested_at=hour_ago) for i in range(count))


def test_3000_waiting_customers_drain_in_three_runs_of_1000_then_the_chain_stops(sandbox, warehouse):
    load(warehouse, 3000)
    context = run_context("manual__drain-1")
    decisions = []
    for _ in range(4):
        finished = run_once(warehouse, context)
        decision = next_run(context)
        decisions.append((finished["claimed"], finished["counts"], decision))
        if isinstance(decision, str):
            break
        # The next run is what the task runner would create: same selection, draining on, its
        # window ending when it is triggered (no logical date), a run id of its own.
        assert decision.trigger_dag_id == DAG_ID
        assert decision.conf == {"drain": True, "dry_run": False, "max_customers": 1000, "customer_keys": []}
        assert decision.logical_date is None
        assert decision.dag_run_id != context["run_id"]
        assert decision.wait_for_completion is False
        context = run_context(decision.dag_run_id, **decision.conf)

    assert [(claimed, counts) for claimed, counts, _ in decisions] == [(1000, {"onboarded": 1000})] * 3
    assert isinstance(decisions[2][2], str), "the third run found nothing waiting and must stop the chain"
    assert decisions[2][2] == "No next run: this run onboarded 1000; no customer is waiting any more"
    assert warehouse.status_counts() == {"onboarded": 3000}


def test_a_run_that_onboarded_nobody_stops_the_chain_although_customers_wait(sandbox, warehouse):
    load(warehouse, 5)
    context = run_context("manual__drain-retry", max_customers=2)

    finished = run_once(warehouse, context, outcome="retry")

    assert finished["counts"] == {"retry": 2}
    assert next_run(context) == (
        "No next run: this run onboarded nobody; a next run would most likely do the same"
    )


def test_only_the_given_keys_count_as_waiting(sandbox, warehouse):
    load(warehouse, 3)
    load(warehouse, 2, prefix="OTHER")
    context = run_context("manual__drain-keys", max_customers=2, customer_keys=["C-0000", "C-0001", "C-0002"])

    run_once(warehouse, context)
    trigger = next_run(context)
    assert trigger.conf["customer_keys"] == ["C-0000", "C-0001", "C-0002"]

    context = run_context(trigger.dag_run_id, **trigger.conf)
    run_once(warehouse, context)
    # OTHER-* still wait, but this drain was asked for three keys only.
    assert next_run(context) == "No next run: this run onboarded 1; no customer is waiting any more"


@pytest.mark.parametrize(
    ("params", "finished", "reason"),
    [
        ({"drain": False}, {"counts": {"onboarded": 3}}, "drain is off for this run"),
        ({"drain": True, "dry_run": True}, {"counts": {}}, "a dry run changes nothing"),
        ({"drain": True}, None, "finish_run left no result"),
    ],
    ids=["drain-off", "dry-run", "no-finish-result"],
)
def test_no_next_run_without_drain_in_a_dry_run_or_without_a_finished_run(
    warehouse, params, finished, reason
):
    def waiting() -> bool:
        raise AssertionError("the table must not be read when an earlier rule already decided")

    decision = drain.decide({"dry_run": False} | params, finished, waiting)

    assert not decision.start and decision.reason.startswith(reason)


def test_finish_run_returns_the_note_it_could_not_publish(sandbox, warehouse, monkeypatch, caplog):
    """Without REST access (MWAA, Composer) the summary is the finish task's return value, in the UI's XCom tab."""
    monkeypatch.delenv("AIRFLOW_CONN_AIRFLOW_API", raising=False)
    load(warehouse, 2)

    with caplog.at_level("WARNING", logger="include.onboarding.run_note"):
        finished = run_once(warehouse, run_context("manual__note"))

    assert finished["note"].startswith("**Done**: 2 customer(s) taken by this run.")
    assert "onboarded **2**" in finished["note"]
    notes = [r.getMessage() for r in caplog.records if "note was not set" in r.getMessage()]
    assert len(notes) == 1, caplog.text
