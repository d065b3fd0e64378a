"""Drain a backlog unattended: a run triggered with ``drain`` starts the next one while rows wait.

``start_next_run`` runs after ``finish_run`` succeeded (a failed run starts nothing). It starts the
next run only when this run onboarded at least one customer and rows are still waiting: a run that
onboarded nobody (AvePoint down, every row in ``retry``) stops the chain instead of spinning. The
next run gets the same ``max_customers`` and ``customer_keys`` and ``drain`` on; it is queued until
this one ends (``max_active_runs=1``), so two runs never overlap.

The trigger goes through the Task SDK (``TriggerDagRunOperator`` raises ``DagRunTriggerException``,
which the task runner hands to the execution API): no REST access or credentials, so it works on
Astro, MWAA and Composer alike. The next run has no logical date: its window ends when it was
triggered, which is what "still waiting" is checked against here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from include.onboarding.config import WAREHOUSE_CONN_ID, OnboardingSettings
from include.onboarding.status import Status

log = logging.getLogger(__name__)

FINISH_TASK_ID = "finish_run"
NEXT_RUN_TASK_ID = "start_next_run"


@dataclass(frozen=True)
class Decision:
    """Whether to start the next run, and why (the task's log and skip message say it)."""

    start: bool
    reason: str


def decide(params: dict[str, Any], finished: dict[str, Any] | None, waiting: Callable[[], bool]) -> Decision:
    """The drain rule, on the run's params, ``finish_run``'s result and whether rows still wait.

    ``waiting`` is asked last, so the table is read only when every other rule lets the run go on.
    """
    if not params.get("drain"):
        return Decision(False, "drain is off for this run")
    if params.get("dry_run"):
        return Decision(False, "a dry run changes nothing, so draining would never end")
    if not finished:
        return Decision(False, f"{FINISH_TASK_ID} left no result, so this run did not finish cleanly")
    onboarded = int((finished.get("counts") or {}).get(Status.ONBOARDED.value, 0))
    if onboarded == 0:
        return Decision(False, "this run onboarded nobody; a next run would most likely do the same")
    if not waiting():
        return Decision(False, f"this run onboarded {onboarded}; no customer is waiting any more")
    return Decision(True, f"this run onboarded {onboarded} and customers are still waiting")


def rows_waiting(params: dict[str, Any], run_id: str, *, now: datetime | None = None) -> bool:
    """Whether a run triggered now would find a row to take: the claim's own statement, rolled back."""
    from include.onboarding.warehouse import CustomerWarehouse

    settings = OnboardingSettings.load()
    store = CustomerWarehouse.from_settings(settings, WAREHOUSE_CONN_ID)
    try:
        keys = store.preview_claim(
            run_id=f"{run_id} (drain check)",
            interval_end=now or datetime.now(UTC),
            limit=1,
            claim_timeout=settings.claim_timeout,
            keys=[str(k) for k in params.get("customer_keys") or []],
        )
    finally:
        store.dispose()
    return bool(keys)


def next_run_conf(params: dict[str, Any]) -> dict[str, Any]:
    """The next run's conf: this run's selection, draining on."""
    return {
        "drain": True,
        "dry_run": False,
        "max_customers": int(params["max_customers"]),
        "customer_keys": [str(k) for k in params.get("customer_keys") or []],
    }


def start_next_run(context: Any) -> None:
    """The ``start_next_run`` task: trigger the next run, or skip saying why not."""
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
    from airflow.sdk.exceptions import AirflowSkipException

    from include.onboarding.summary import md

    params = context["params"]
    finished = context["ti"].xcom_pull(task_ids=FINISH_TASK_ID)
    decision = decide(params, finished, lambda: rows_waiting(params, context["run_id"]))
    if not decision.start:
        raise AirflowSkipException(f"No next run: {decision.reason}")
    dag_id = context["dag"].dag_id
    log.info("Starting the next run of %s: %s", dag_id, decision.reason)
    TriggerDagRunOperator(
        task_id=NEXT_RUN_TASK_ID,
        trigger_dag_id=dag_id,
        conf=next_run_conf(params),
        logical_date=None,  # the next run's window ends when it is triggered
        note=f"Started by run {md(context['run_id'])} to drain the backlog.",
        openlineage_inject_parent_info=False,
    ).execute(context)  # raises DagRunTriggerException: the task runner triggers the run
