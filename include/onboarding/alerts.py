"""One alert per run that leaves rows needing a human, stops, or finds drift; never a second one.

Where it runs: inside the run's own last task (``finish_run`` of the onboarding DAG,
``send_alerts`` of the reconciliation DAG), that is on a worker, not in a DAG-level callback.
A DAG callback runs in the dag-processor, which would then need the warehouse and SMTP
connections and has no retries; the task already holds the warehouse where the durable marker
lives, and a task is retried by Airflow when it dies.

How "one" holds: the run's alert is first recorded as owed in ``<table>_alerts`` (one row per
DAG, run and channel; inserting it again does nothing), then leased, sent and marked sent. A
retried or re-run finish finds the row sent and sends nothing. A mail server that is down only
releases the lease: the alert stays owed and the next run's finish (or the reconciliation DAG)
sends it. A lease older than the claim timeout is taken again: only a worker killed between the
SMTP answer and the marker can cause a second mail, and only after that timeout.

What it says: counts, then each row needing a human (key, organization, reason) and a link to
the run, rendered from ``templates/alert_email.html.j2`` and ``templates/alert_slack.txt.j2``.
It never holds a password, a secret, a token or an e-mail address: rows are read without their
password or account, and every text is scrubbed of anything shaped like an e-mail address.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from include.onboarding.config import SMTP_CONN_ID, WAREHOUSE_CONN_ID, OnboardingSettings
from include.onboarding.status import NEEDS_HUMAN

log = logging.getLogger(__name__)

EMAIL = "email"
SLACK = "slack"
STOPPED = "stopped"
DRIFT = "drift"
# Alerts sent per finish at most: a long mail outage does not turn one run into a flood.
SEND_LIMIT = 20
ROWS_LISTED = 200
_EMAIL_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")
REDACTED = "[e-mail address removed]"


def scrub(value: Any, max_chars: int = 500) -> str:
    """Text safe for an alert: e-mail addresses removed, whitespace collapsed, length capped."""
    text = _EMAIL_ADDRESS.sub(REDACTED, " ".join(str(value if value is not None else "").split()))
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def run_link(dag_id: str, run_id: str) -> str:
    """The run's page in the Airflow UI (``[api] base_url``)."""
    from airflow.sdk import conf

    base = conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")
    return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


# -- what a run owes ------------------------------------------------------------------------------


def onboarding_payload(
    summary: Any, *, dag_id: str, stop_reason: str | None, alert_on: tuple[str, ...]
) -> dict[str, Any] | None:
    """The alert an onboarding run owes, or None: why, counts, rows needing a human, link."""
    triggers = [s.value for s in NEEDS_HUMAN if summary.counts.get(s.value) and s.value in alert_on]
    if stop_reason and STOPPED in alert_on:
        triggers.insert(0, STOPPED)
    if not triggers:
        return None
    rows = [
        {
            "customer_key": scrub(r["customer_key"], 80),
            "organization_name": scrub(r.get("organization_name"), 80),
            "status": str(r["status"]),
            "reason": scrub(r.get("status_reason")),
        }
        for r in summary.needing_human[:ROWS_LISTED]
    ]
    needing = sum(summary.counts.get(s.value, 0) for s in NEEDS_HUMAN)
    headline = "Run stopped" if stop_reason else f"{needing} customer row(s) need a human"
    return {
        "kind": "onboarding",
        "dag_id": dag_id,
        "run_id": summary.run_id,
        "link": run_link(dag_id, summary.run_id),
        "triggers": triggers,
        "headline": headline,
        "counts": dict(summary.counts),
        "rows": rows,
        "more": max(needing - len(rows), 0),
        "stop_reason": scrub(stop_reason, 1000) if stop_reason else None,
        "findings": [],
    }


def reconciliation_payload(
    findings: list[dict[str, Any]], *, dag_id: str, run_id: str, alert_on: tuple[str, ...]
) -> dict[str, Any] | None:
    """The alert a reconciliation run owes when it found drift a human must look at, or None."""
    from include.onboarding.reconciliation import NEEDS_A_HUMAN

    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["kind"]] = counts.get(finding["kind"], 0) + 1
    if DRIFT not in alert_on or not any(counts.get(kind) for kind in NEEDS_A_HUMAN):
        return None
    listed = [
        {
            "kind": str(f["kind"]),
            "customer_key": scrub(f.get("customer_key"), 80) if f.get("customer_key") else None,
            "avepoint_customer_id": scrub(f.get("avepoint_customer_id"), 80)
            if f.get("avepoint_customer_id")
            else None,
            "detail": scrub(f.get("detail")),
        }
        for f in findings[:ROWS_LISTED]
    ]
    drift = sum(counts.get(kind, 0) for kind in NEEDS_A_HUMAN)
    return {
        "kind": "reconciliation",
        "dag_id": dag_id,
        "run_id": run_id,
        "link": run_link(dag_id, run_id),
        "triggers": [DRIFT],
        "headline": f"Reconciliation found {drift} difference(s) between the warehouse and AvePoint",
        "counts": counts,
        "rows": [],
        "more": max(len(findings) - len(listed), 0),
        "stop_reason": None,
        "findings": listed,
    }


def channels(settings: OnboardingSettings) -> list[str]:
    """The configured channels: e-mail when there are recipients, Slack when its connection exists."""
    found = [EMAIL] if settings.alert_emails else []
    if settings.alert_slack_conn_id:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            BaseHook.get_connection(settings.alert_slack_conn_id)
            found.append(SLACK)
        except AirflowNotFoundException:
            log.warning(
                "alert_slack_conn_id names %r, but no such connection exists: no Slack alert",
                settings.alert_slack_conn_id,
            )
    return found


# -- entry points for the DAGs' last tasks ---------------------------------------------------------


def alert_after_run(
    context: Any, settings: OnboardingSettings, summary: Any, *, claim_finished: bool
) -> None:
    """``finish_run``'s step: owe this run's alert if it needs one, send what is owed. Never raises."""
    if summary.dry_run:
        return
    try:
        stop_reason = summary.stop_reason
        if stop_reason is None and not claim_finished:
            stop_reason = (
                "claim_customers did not finish, so this run took no customer (an unreachable "
                "warehouse or AvePoint, a rejected credential or a table that is not ready; see its log)"
            )
        payload = onboarding_payload(
            summary, dag_id=context["dag"].dag_id, stop_reason=stop_reason, alert_on=settings.alert_on
        )
        deliver(context, settings, payload)
    except Exception as exc:  # an alert must never fail the run or undo its statuses
        log.warning("Alerts were not handled this time (%s: %s)", type(exc).__name__, scrub(exc, 300))


def alert_after_reconciliation(context: Any, settings: OnboardingSettings) -> dict[str, Any]:
    """The reconciliation DAG's last step: owe its drift alert, send what is owed. Never raises."""
    try:
        from include.onboarding.ops_store import OperationsWarehouse

        store = OperationsWarehouse(
            WAREHOUSE_CONN_ID, settings.table, operations_schema=settings.operations_schema
        )
        try:
            store.create_operations_tables()
            findings = store.drift_findings(context["run_id"])
            payload = reconciliation_payload(
                findings, dag_id=context["dag"].dag_id, run_id=context["run_id"], alert_on=settings.alert_on
            )
            return deliver(context, settings, payload, store=store)
        finally:
            store.dispose()
    except Exception as exc:
        log.warning("Alerts were not handled this time (%s: %s)", type(exc).__name__, scrub(exc, 300))
        return {"sent": 0, "failed": 0}


def deliver(
    context: Any, settings: OnboardingSettings, payload: dict[str, Any] | None, *, store: Any = None
) -> dict[str, int]:
    """Record ``payload`` as owed on every configured channel, then send every alert owed."""
    from include.onboarding.ops_store import OperationsWarehouse

    if store is None:
        store = OperationsWarehouse(
            WAREHOUSE_CONN_ID, settings.table, operations_schema=settings.operations_schema
        )
        try:
            return deliver(context, settings, payload, store=store)
        finally:
            store.dispose()
    store.create_operations_tables()
    configured = channels(settings)
    if payload is not None:
        if configured:
            store.owe_alert(payload["dag_id"], payload["run_id"], configured, payload)
            log.info(
                "Run %s owes an alert (%s) on %s",
                payload["run_id"],
                ", ".join(payload["triggers"]),
                configured,
            )
        else:
            log.info(
                "Run %s would alert (%s), but no alert_emails or Slack connection is configured",
                payload["run_id"],
                ", ".join(payload["triggers"]),
            )
    return send_owed(context, settings, store)


def send_owed(context: Any, settings: OnboardingSettings, store: Any) -> dict[str, int]:
    """Send the alerts still owed (this run's and earlier runs'), each at most once."""
    sent = failed = 0
    for alert in store.owed_alerts(stale_after=settings.claim_timeout, limit=SEND_LIMIT):
        key = (alert["dag_id"], alert["run_id"], alert["channel"])
        lease = store.lease_alert(*key, stale_after=settings.claim_timeout)
        if lease is None:
            continue  # another finish took it a moment ago
        holder, payload = lease
        try:
            delivered = _send(alert["channel"], payload, settings, context)
        except Exception as exc:
            error = f"{type(exc).__name__}: {scrub(exc, 300)}"
            store.release_alert(*key, holder, error=error)
            failed += 1
            log.warning(
                "Could not send the %s alert of run %s (%s); it stays owed and a later run sends it",
                alert["channel"],
                alert["run_id"],
                error,
            )
            continue
        if delivered:
            store.mark_alert_sent(*key, holder)
            sent += 1
            log.info("Sent the %s alert of run %s", alert["channel"], alert["run_id"])
        else:
            store.mark_alert_sent(
                *key, holder, outcome="dropped", error="the channel is no longer configured"
            )
            log.info("Dropped the %s alert of run %s: the channel is no longer configured", key[2], key[1])
    return {"sent": sent, "failed": failed}


# -- rendering and sending ------------------------------------------------------------------------


def render(payload: dict[str, Any]) -> tuple[str, str, str]:
    """``(subject, html, text)`` of an alert: the e-mail's HTML body and Slack's text."""
    values = dict(payload)
    subject = scrub(
        f"[AvePoint onboarding] {payload['headline']} ({payload['dag_id']}, {payload['run_id']})", 200
    )
    html = _template("alert_email.html.j2").render(**values, scrub=scrub)
    text = _template("alert_slack.txt.j2").render(**values, scrub=scrub)
    return subject, html, text


def _send(channel: str, payload: dict[str, Any], settings: OnboardingSettings, context: Any) -> bool:
    """Send through Airflow's notifiers; False if the channel is no longer configured."""
    subject, html, text = render(payload)
    if channel == EMAIL:
        if not settings.alert_emails:
            return False
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        # notify(), not __call__: the body is already rendered, and a reason with "{{" in it
        # must not be rendered again as a template.
        SmtpNotifier(
            to=list(settings.alert_emails), subject=subject, html_content=html, smtp_conn_id=SMTP_CONN_ID
        ).notify(context)
        return True
    if channel == SLACK:
        if SLACK not in channels(settings):
            return False
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        SlackWebhookNotifier(slack_webhook_conn_id=settings.alert_slack_conn_id, text=text).notify(context)
        return True
    return False


@cache
def _template(name: str) -> Any:
    import jinja2

    html = name.endswith(".html.j2")
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        # Slack's mrkdwn reads <, > and & as markup: every value is escaped the way Slack asks.
        finalize=None if html else _slack_escape,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["scrub"] = scrub
    return environment.get_template(name)


def _slack_escape(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
