"""The onboarding run's steps around the mapped onboarding tasks: claim, validate, finish.

Each function takes the task's Airflow context and returns JSON-safe values for
XCom: customer keys, organization names, counts and reasons, never a password or
an e-mail. Heavy imports (Great Expectations, pandas, the warehouse drivers)
happen inside the functions, at run time.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from include.onboarding.config import (
    AIRFLOW_API_CONN_ID,
    AVEPOINT_CONN_ID,
    WAREHOUSE_CONN_ID,
    OnboardingSettings,
)
from include.onboarding.names import CLAIM_TASK_ID, VALIDATE_TASK_ID
from include.onboarding.status import Status

log = logging.getLogger(__name__)


def _warehouse(settings: OnboardingSettings):
    """The warehouse, its configured table name checked against the database's own limits."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.onboarding.warehouse import CustomerWarehouse

    warehouse = CustomerWarehouse(
        WAREHOUSE_CONN_ID, settings.table, operations_schema=settings.operations_schema
    )
    try:
        warehouse.table_name  # noqa: B018 - resolved now: a configuration error fails at once, unretried
    except ValueError as exc:
        raise AirflowFailException(
            f"{exc} (fix the Variable 'avepoint_onboarding' or the connection)"
        ) from None
    return warehouse


def prepare_table(context: Any) -> None:
    """Check the configured table once before anything is claimed; create the tables if missing."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.onboarding.warehouse import TableNotReady

    try:
        _warehouse(OnboardingSettings.load()).prepare()
    except TableNotReady as exc:
        raise AirflowFailException(str(exc)) from None


def window_end(context: Any) -> datetime:
    """End of the run's data interval; a manual run without one uses the time it was triggered for."""
    end = context.get("data_interval_end")
    return end if end is not None else context["dag_run"].run_after


def claim_customers(context: Any) -> dict[str, Any]:
    """Take this run's rows (``in_progress``); a dry run only previews the same selection."""
    from airflow.sdk.exceptions import AirflowFailException

    from avepoint_provider.errors import AvePointAuthError, AvePointConfigError
    from avepoint_provider.hooks.avepoint import AvePointHook
    from include.onboarding.claim_timing import effective_claim_timeout

    params = context["params"]
    settings = OnboardingSettings.load()
    store = _warehouse(settings)
    dry_run = bool(params["dry_run"])
    hook = AvePointHook(AVEPOINT_CONN_ID)
    try:
        if not dry_run:
            # Prove the credentials before taking any row: a wrong secret or a revoked app must
            # fail the run with rows untouched, not turn every row into a failed attempt.
            hook.get_token()
        # A row being sent must not look stale to this run while one call to AvePoint lasts.
        claim_timeout = effective_claim_timeout(settings.claim_timeout, hook)
    except (AvePointAuthError, AvePointConfigError) as exc:
        raise AirflowFailException(
            f"{exc}. Nothing was claimed; fix the {AVEPOINT_CONN_ID!r} connection."
        ) from None
    finally:
        hook.close()
    end = window_end(context)
    select = store.preview_claim if dry_run else store.claim
    keys = select(
        run_id=context["run_id"],
        interval_end=end,
        limit=int(params["max_customers"]),
        claim_timeout=claim_timeout,
        keys=[str(k) for k in params["customer_keys"] or []],
    )
    verb = "would take" if dry_run else "claimed"
    log.info(
        "Run %s %s %d customer(s) requested before %s", context["run_id"], verb, len(keys), end.isoformat()
    )
    return {"keys": keys, "dry_run": dry_run}


def validate_customers(claim: dict[str, Any], context: Any) -> list[dict[str, Any]]:
    """Validate the claimed rows; mark failures ``invalid``; return the rows to onboard.

    Returns one kwargs dict per valid row for the mapped operator (none in a dry run),
    and pushes a ``report`` XCom: counts, plus for a dry run what would be sent and
    what is invalid.
    """
    from airflow.sdk import BaseHook

    from avepoint_provider.settings import AvePointSettings
    from include.onboarding.text import undecodable_columns, undecodable_reason
    from include.onboarding.validation import reason_text, validate_rows

    settings = OnboardingSettings.load()
    store = _warehouse(settings)
    run_id = context["run_id"]
    dry_run = claim["dry_run"]
    rows = store.rows(claim["keys"]) if dry_run else store.claimed_rows(run_id)
    # Text the database holds as invalid UTF-8 is never decoded, shown or validated: its own reason.
    reasons = {
        str(r["customer_key"]): undecodable_reason(bad) for r in rows if (bad := undecodable_columns(r))
    }
    readable = [r for r in rows if str(r["customer_key"]) not in reasons]
    environment = AvePointSettings.from_connection(BaseHook.get_connection(AVEPOINT_CONN_ID)).environment
    failures = validate_rows(
        readable,
        store.password_profiles([str(r["customer_key"]) for r in readable]),
        data_center_family=environment.data_center_family,
        onboarded_accounts=store.onboarded_accounts(str(r["registration_account"] or "") for r in readable),
    )
    reasons |= {key: reason_text(messages) for key, messages in failures.items()}
    valid = [r for r in rows if str(r["customer_key"]) not in reasons]
    for key, reason in reasons.items():
        log.info("Customer %s is invalid: %s", key, reason)
    report: dict[str, Any] = {"valid": len(valid), "invalid": len(reasons)}
    if dry_run:
        for row in valid:
            log.info("Dry run: would send customer %s: %s", row["customer_key"], json.dumps(_preview(row)))
        report["would_send"] = [_brief(r) for r in valid]
        report["invalid_rows"] = [
            _brief(r) | {"status": Status.INVALID.value, "status_reason": reasons[str(r["customer_key"])]}
            for r in rows
            if str(r["customer_key"]) in reasons
        ]
        context["ti"].xcom_push(key="report", value=report)
        return []
    store.mark_invalid(run_id, reasons, try_number=context["ti"].try_number)
    context["ti"].xcom_push(key="report", value=report)
    return [
        {
            "customer_key": str(r["customer_key"]),
            "customer_label": _label(r),
            "max_attempts": settings.max_attempts,
        }
        for r in valid
    ]


def finish_run(context: Any) -> dict[str, Any]:
    """Settle rows whose task died, summarise the run into its log and note, fail loudly if needed."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.onboarding.run_note import publish_note
    from include.onboarding.summary import RunSummary

    settings = OnboardingSettings.load()
    store = _warehouse(settings)
    run_id = context["run_id"]
    ti = context["ti"]
    claim = ti.xcom_pull(task_ids=CLAIM_TASK_ID) or {}
    report = ti.xcom_pull(task_ids=VALIDATE_TASK_ID, key="report") or {}
    dry_run = bool(claim.get("dry_run", context["params"]["dry_run"]))

    summary = RunSummary(run_id=run_id, dry_run=dry_run, claimed=len(claim.get("keys") or []))
    if dry_run:
        summary.would_send = report.get("would_send", [])
        summary.invalid_rows = report.get("invalid_rows", [])
    else:
        summary.stop_reason = store.stop_reason(run_id)
        if summary.stop_reason:
            store.release_run(
                run_id, reason=f"run {run_id} stopped before onboarding it: {summary.stop_reason}"
            )
        else:
            # Counted from the events table: a retry of this task still fails the run.
            summary.recovered = store.recover_unfinished(
                run_id,
                reason=(
                    f"the onboarding task of run {run_id} ended without recording an outcome "
                    "(it failed, was killed or never ran); the next run checks AvePoint before resending"
                ),
                max_attempts=settings.max_attempts,
            )
        summary.counts = store.status_counts(run_id)
        summary.needing_human = store.needing_human(run_id)
    summary.table_counts = store.status_counts()

    log.info("Run summary:\n%s", summary.render())
    # -- alerts: this run's (at most one, durable), then those still owed; never raises ---------
    from include.onboarding.alerts import alert_after_run

    alerts = alert_after_run(context, settings, summary, claim_finished=bool(claim))
    # ---------------------------------------------------------------------------------------------
    # The note through the REST API where a connection gives access; the same text is the return
    # value (XCom, readable in the UI) on platforms where it does not (MWAA, Composer).
    note = summary.note()
    publish_note(context["dag"].dag_id, run_id, note, AIRFLOW_API_CONN_ID)
    if summary.stop_reason:
        raise AirflowFailException(
            f"The run stopped on a configuration error: {summary.stop_reason}. "
            "Rows it held went back to their previous status."
        )
    if not claim:
        raise AirflowFailException(
            f"{CLAIM_TASK_ID} did not finish, so this run took no customer; see its log "
            "(an unreachable warehouse or AvePoint fails it before anything is claimed)"
        )
    if summary.recovered:
        raise AirflowFailException(
            f"{summary.recovered} onboarding task(s) did not record an outcome; "
            "their rows were set to retry for the next run"
        )
    # What the alerts did (a channel that cannot send), and the note for platforms without REST access.
    return summary.to_dict() | {"alerts": alerts, "note": note}


def _label(row: dict[str, Any]) -> str:
    """What a person sees for a mapped task: key and organization, never an e-mail."""
    organization = " ".join(str(row.get("organization_name") or "").split())
    if len(organization) > 40:
        organization = organization[:39] + "…"
    return f"{row['customer_key']} · {organization}" if organization else str(row["customer_key"])


def _brief(row: dict[str, Any]) -> dict[str, Any]:
    from include.onboarding.text import display_text

    # An invalid row's name may hold a NUL, which XCom on PostgreSQL cannot store: shown escaped.
    return {
        "customer_key": str(row["customer_key"]),
        "organization_name": display_text(row.get("organization_name")),
    }


def _preview(row: dict[str, Any]) -> dict[str, Any]:
    """The request body a real run would send, with the password masked."""
    from avepoint_provider.customer import Customer

    return Customer.from_mapping(row | {"password": "********"}).to_request_body()
