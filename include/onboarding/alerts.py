"""One alert for each run a person must look at; never a second one, and none lost without a trace.

A run owes an alert when it leaves rows needing a human or stops on a configuration error
(onboarding), when one of its tasks fails for good (``alert_after_failure``, a task callback), and
when reconciliation finds new or changed drift, or takes its baseline.

Where it runs: inside the run's own tasks (``finish_run`` of the onboarding DAG,
``reconcile_customers`` and ``send_alerts`` of the reconciliation DAG, and those tasks' failure
callbacks), that is on a worker, not in a DAG-level callback. A DAG callback runs in the
dag-processor, which would then need the warehouse and SMTP connections and has no retries; the
task already holds the warehouse where the durable marker lives, and a task is retried by Airflow
when it dies.

How "one" holds: the alert is first recorded as owed in ``<table>_alerts`` (one row per DAG, run
and channel; recording it again does nothing), then leased, sent and marked ``sent``. A retried or
re-run task finds it there and sends nothing.

How none is lost:

- Owed alerts are sent oldest first **within each channel**, at most ``SEND_LIMIT`` per channel
  per pass; a channel that fails waits for the next pass and never holds back another channel.
- An alert that failed ``MAX_ATTEMPTS`` times is set aside: outcome ``dead`` in the table, and
  counted (``dead``) in every run's summary until a person re-owes it (``outcome = NULL,
  attempts = 0``) or deletes it.
- A lease lasts ``ALERT_LEASE``, whatever the claim timeout: only a worker killed between the
  SMTP answer and the marker can cause a second mail, and only after that.
- The sender is the ``smtp_default`` connection's ``from_email``, else Airflow's own
  ``[email] from_email``, else ``[smtp] smtp_mail_from``.
- When the warehouse cannot be reached, the alert is sent directly, best effort, without its
  marker, and the log says so: a retried task may send it again, which beats sending nothing.
- What each pass did is returned to the step (``sent``, ``failed``, ``dead``, and
  ``cannot_send``: each channel that cannot send, with why), which puts it in the run's summary.

What it says: counts, then each row or finding needing a human and a link to the run, rendered from
``templates/alert_email.html.j2`` and ``templates/alert_slack.txt.j2``. It never holds a password,
a secret, a token or an e-mail address: rows are read without their password or account, and every
text is scrubbed of anything shaped like an e-mail address.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
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
# Alerts sent per channel and pass at most: a long outage does not turn one run into a flood.
SEND_LIMIT = 20
# An alert that failed this many times is set aside (outcome "dead") instead of being tried again.
MAX_ATTEMPTS = 10
# How long a sender holds an alert it is sending: far longer than any send (the SMTP and Slack
# connections time out within a minute), so a lease is only ever taken over from a dead sender.
ALERT_LEASE = timedelta(minutes=15)
ROWS_LISTED = 200

# An e-mail address as RFC 5322 allows it to be written: a local part that is a quoted string
# ("john doe", spaces, @ and escaped quotes inside) or a run of ordinary characters, then a domain
# that is a name or an address literal ([192.168.0.1], [IPv6:...]).
_EMAIL_ADDRESS = re.compile(
    r"""(?:"(?:[^"\\]|\\.)*"|[^\s<>()\[\],;:"']+)"""
    r"""@(?:\[[^\]\s]*\]|[^\s<>()\[\],;:"'@]+)"""
)
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


# -- what an alert says ---------------------------------------------------------------------------


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
        "failure": None,
        "findings": [],
        "baseline": 0,
        "standing": 0,
    }


def reconciliation_payload(
    findings: Sequence[Mapping[str, Any]],
    *,
    baseline: int,
    standing: int,
    dag_id: str,
    run_id: str,
    alert_on: tuple[str, ...],
) -> dict[str, Any] | None:
    """The alert a reconciliation run owes, or None.

    ``findings`` are the run's new or changed findings that a human must look at; ``baseline``
    how many customers the first reconciliation took as its baseline (one line, no row each);
    ``standing`` how many earlier findings still stand (a count, not repeated).
    """
    if DRIFT not in alert_on or not (findings or baseline):
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
    if findings:
        headline = (
            f"Reconciliation found {len(findings)} new difference(s) between the warehouse and AvePoint"
        )
    else:
        headline = f"Reconciliation took its baseline: {baseline} customer(s) AvePoint already lists"
    return {
        "kind": "reconciliation",
        "dag_id": dag_id,
        "run_id": run_id,
        "link": run_link(dag_id, run_id),
        "triggers": [DRIFT],
        "headline": headline,
        "counts": dict(Counter(str(f["kind"]) for f in findings)),
        "rows": [],
        "more": max(len(findings) - len(listed), 0),
        "stop_reason": None,
        "failure": None,
        "findings": listed,
        "baseline": int(baseline),
        "standing": int(standing),
    }


def failure_payload(
    *, dag_id: str, run_id: str, task_id: str, error: BaseException | None, alert_on: tuple[str, ...]
) -> dict[str, Any] | None:
    """The alert for a task that failed for good (after its retries), or None."""
    if STOPPED not in alert_on:
        return None
    # Exception messages hold no secret (the contract's guarantee 2); addresses are scrubbed.
    what = f"{type(error).__name__}: {error}" if error is not None else "no error recorded"
    return {
        "kind": "failure",
        "dag_id": dag_id,
        "run_id": run_id,
        "link": run_link(dag_id, run_id),
        "triggers": [STOPPED],
        "headline": f"{task_id} failed",
        "counts": {},
        "rows": [],
        "more": 0,
        "stop_reason": None,
        "failure": scrub(f"{task_id} failed after its retries ({what})", 1000),
        "findings": [],
        "baseline": 0,
        "standing": 0,
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


# -- entry points for the DAGs' tasks --------------------------------------------------------------


def alert_after_run(
    context: Any, settings: OnboardingSettings, summary: Any, *, claim_finished: bool
) -> dict[str, Any]:
    """``finish_run``'s step: owe this run's alert if it needs one, send what is owed.

    Returns what happened, for the run's summary. Never raises: an alert must never fail the run
    or undo its statuses.
    """
    if summary.dry_run:
        return {}
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
        return owe_and_send(context, settings, payload)
    except Exception as exc:
        return _not_handled(exc)


def alert_after_failure(context: Any) -> None:
    """A task's ``on_failure_callback``: alert that the task failed for good. Never raises.

    A task that raised ``AirflowFailException`` failed on purpose after alerting (a stopped run):
    nothing more. Anything else (a warehouse that cannot be reached, say) gets an alert of its
    own, sent directly when the warehouse cannot record it.
    """
    from airflow.sdk.exceptions import AirflowFailException

    error = context.get("exception")
    if isinstance(error, AirflowFailException):
        return
    try:
        settings = OnboardingSettings.load()
        payload = failure_payload(
            dag_id=context["dag"].dag_id,
            run_id=context["run_id"],
            task_id=context["ti"].task_id,
            error=error,
            alert_on=settings.alert_on,
        )
        if payload is not None:
            log.info("Alerts after the failure: %s", owe_and_send(context, settings, payload))
    except Exception as exc:
        _not_handled(exc)


def send_alerts_owed(context: Any, settings: OnboardingSettings) -> dict[str, Any]:
    """Send the alerts still owed (the reconciliation DAG's ``send_alerts``). Never raises."""
    from include.onboarding.ops_store import OperationsWarehouse

    try:
        store = OperationsWarehouse(
            WAREHOUSE_CONN_ID, settings.table, operations_schema=settings.operations_schema
        )
        try:
            return send_owed(context, settings, store)
        finally:
            store.dispose()
    except Exception as exc:
        return _not_handled(exc)


def _not_handled(exc: Exception) -> dict[str, Any]:
    error = f"{type(exc).__name__}: {scrub(exc, 300)}"
    log.warning("Alerts were not handled this time (%s)", error)
    return {"error": f"alerts were not handled: {error}"}


# -- owing and sending ------------------------------------------------------------------------------


def owe_and_send(
    context: Any, settings: OnboardingSettings, payload: dict[str, Any] | None
) -> dict[str, Any]:
    """Record ``payload`` as owed on every configured channel, then send every alert owed.

    The operations tables are created here: this is the run's one step that needs them. When the
    warehouse cannot record the alert, it is sent directly instead.
    """
    from include.onboarding.ops_store import OperationsWarehouse

    store = OperationsWarehouse(
        WAREHOUSE_CONN_ID, settings.table, operations_schema=settings.operations_schema
    )
    try:
        try:
            store.create_operations_tables()
            configured = owed_channels(settings, payload)
            if configured and payload is not None:
                store.owe_alert(payload["dag_id"], payload["run_id"], configured, payload)
        except Exception as exc:
            if payload is None:
                raise
            log.warning(
                "The warehouse could not record the alert of run %s (%s: %s): sending it directly, "
                "without its 'sent' marker (a retried task may send it a second time)",
                payload["run_id"],
                type(exc).__name__,
                scrub(exc, 300),
            )
            return send_directly(context, settings, payload)
        return send_owed(context, settings, store)
    finally:
        store.dispose()


def owed_channels(settings: OnboardingSettings, payload: Mapping[str, Any] | None) -> list[str]:
    """The channels ``payload`` is owed on (none when there is no payload), said in the log."""
    if payload is None:
        return []
    configured = channels(settings)
    if configured:
        log.info(
            "Run %s owes an alert (%s) on %s", payload["run_id"], ", ".join(payload["triggers"]), configured
        )
    else:
        log.info(
            "Run %s would alert (%s), but no alert_emails or Slack connection is configured",
            payload["run_id"],
            ", ".join(payload["triggers"]),
        )
    return configured


def send_owed(context: Any, settings: OnboardingSettings, store: Any) -> dict[str, Any]:
    """Send the alerts still owed (this run's and earlier runs'), each at most once; say what happened."""
    configured = channels(settings)
    cannot_send = _unusable(configured)
    waiting = set(cannot_send)  # channels that wait for a later pass: their alerts stay owed
    sent = failed = 0
    for alert in store.owed_alerts(stale_after=ALERT_LEASE, per_channel=SEND_LIMIT):
        channel = alert["channel"]
        if channel in waiting:
            continue
        key = (alert["dag_id"], alert["run_id"], channel)
        lease = store.lease_alert(*key, stale_after=ALERT_LEASE)
        if lease is None:
            continue  # another sender took it a moment ago
        holder, payload, attempts = lease
        try:
            delivered = _send(channel, payload, settings, context)
        except Exception as exc:
            error = f"{type(exc).__name__}: {scrub(exc, 300)}"
            failed += 1
            waiting.add(channel)
            cannot_send[channel] = error
            if attempts >= MAX_ATTEMPTS:
                store.settle_alert(*key, holder, outcome="dead", error=error)
                log.warning(
                    "Set the %s alert of run %s aside after %d failed attempts (%s): outcome 'dead' "
                    "in the alerts table; set its outcome NULL and attempts 0 to send it again",
                    channel,
                    key[1],
                    attempts,
                    error,
                )
            else:
                store.release_alert(*key, holder, error=error)
                log.warning(
                    "Could not send the %s alert of run %s (%s); it stays owed and a later run sends it",
                    channel,
                    key[1],
                    error,
                )
            continue
        if delivered:
            store.settle_alert(*key, holder, outcome="sent")
            sent += 1
            log.info("Sent the %s alert of run %s", channel, key[1])
        else:
            store.settle_alert(*key, holder, outcome="dropped", error="the channel is no longer configured")
            log.info("Dropped the %s alert of run %s: the channel is no longer configured", channel, key[1])
    dead = store.dead_alerts()
    if dead:
        log.warning("%d alert(s) are set aside as dead in the alerts table (outcome 'dead')", dead)
    return {"channels": configured, "sent": sent, "failed": failed, "dead": dead, "cannot_send": cannot_send}


def send_directly(context: Any, settings: OnboardingSettings, payload: dict[str, Any]) -> dict[str, Any]:
    """Send ``payload`` on every configured channel now, without the warehouse (best effort)."""
    configured = channels(settings)
    cannot_send: dict[str, str] = {}
    sent = 0
    for channel in configured:
        try:
            _send(channel, payload, settings, context)
            sent += 1
            log.info("Sent the %s alert of run %s directly", channel, payload["run_id"])
        except Exception as exc:
            cannot_send[channel] = f"{type(exc).__name__}: {scrub(exc, 300)}"
            log.warning("Could not send the %s alert directly either (%s)", channel, cannot_send[channel])
    return {
        "channels": configured,
        "sent": sent,
        "failed": len(cannot_send),
        "dead": None,
        "cannot_send": cannot_send,
        "direct": True,
    }


class CannotSend(Exception):
    """A channel's configuration cannot send any alert (a missing connection, no sender)."""


def _unusable(configured: Sequence[str]) -> dict[str, str]:
    """Configured channels that cannot send anything as configured, with why."""
    unusable: dict[str, str] = {}
    if EMAIL in configured:
        try:
            _email_sender()
        except CannotSend as exc:
            unusable[EMAIL] = str(exc)
            log.warning("No e-mail alert can be sent: %s; owed alerts wait for it", exc)
    return unusable


def _email_sender() -> str:
    """The From address: ``smtp_default``'s ``from_email``, else ``[email] from_email``, else ``[smtp] smtp_mail_from``."""
    from airflow.sdk import BaseHook, conf
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(SMTP_CONN_ID)
    except AirflowNotFoundException:
        raise CannotSend(f"the connection {SMTP_CONN_ID!r} does not exist") from None
    sender = (
        connection.extra_dejson.get("from_email")
        or conf.get("email", "from_email", fallback=None)
        or conf.get("smtp", "smtp_mail_from", fallback=None)
    )
    if not sender:
        raise CannotSend(
            f"no sender: set from_email in the {SMTP_CONN_ID!r} connection's extra, or Airflow's "
            "[email] from_email"
        )
    return str(sender)


# -- rendering and sending ------------------------------------------------------------------------


def render(payload: dict[str, Any]) -> tuple[str, str, str]:
    """``(subject, html, text)`` of an alert: the e-mail's HTML body and Slack's text."""
    # An alert owed before an upgrade lacks the keys added since.
    values = {"failure": None, "baseline": 0, "standing": 0} | dict(payload)
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
        # must not be rendered again as a template. Every field is given, the sender too, so the
        # notifier renders none of them.
        SmtpNotifier(
            to=list(settings.alert_emails),
            from_email=_email_sender(),
            subject=subject,
            html_content=html,
            smtp_conn_id=SMTP_CONN_ID,
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
