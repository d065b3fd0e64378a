"""Alert settings, content and delivery bookkeeping, without Airflow's scheduler."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from include.onboarding.alerts import REDACTED, onboarding_payload, render, scrub
from include.onboarding.config import ALERT_REASONS, OnboardingSettings
from include.onboarding.summary import RunSummary
from tests.conftest import set_connection
from tests.support.rows import alert_rows, run_sql


def summary(**changes) -> RunSummary:
    base = RunSummary(
        run_id="manual__2026-11-29T09:00:00+00:00",
        claimed=4,
        counts={"onboarded": 1, "invalid": 1, "conflict": 1, "rejected": 1},
        needing_human=[
            {"customer_key": "BAD-1", "organization_name": "Org <b>1</b>", "status": "invalid",
             "status_reason": "registration_account ann@contoso.example is not unique in the batch"},
            {"customer_key": "TAKEN", "organization_name": "Org T", "status": "conflict",
             "status_reason": "the account exists under another partner (status 7) {{ 7 * 7 }}"},
            {"customer_key": "SELF", "organization_name": "Org S", "status": "rejected",
             "status_reason": "status 6: the partner's own account"},
        ],
    )  # fmt: skip
    for key, value in changes.items():
        setattr(base, key, value)
    return base


# -- settings ----------------------------------------------------------------------------------------


def test_alert_settings_default_to_no_channel_and_every_reason():
    settings = OnboardingSettings.from_mapping({})
    assert (settings.alert_emails, settings.alert_slack_conn_id, settings.alert_on) == (
        (),
        None,
        ALERT_REASONS,
    )
    assert set(ALERT_REASONS) == {"invalid", "rejected", "conflict", "failed", "stopped", "drift"}


def test_alert_settings_are_read_from_the_variable():
    settings = OnboardingSettings.from_mapping(
        {
            "alert_emails": ["a@ops.example", " b@ops.example "],
            "alert_slack_conn_id": "slack_ops",
            "alert_on": ["failed"],
        }
    )
    assert settings.alert_emails == ("a@ops.example", "b@ops.example")
    assert (settings.alert_slack_conn_id, settings.alert_on) == ("slack_ops", ("failed",))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"alert_on": ["failed", "exploded"]}, "alert_on has unknown value(s) ['exploded']"),
        ({"alert_emails": [3]}, "alert_emails must be a list of strings"),
        ({"alert_emails": ["ops team"]}, "every alert_emails entry must be an e-mail address"),
        ({"alert_slack_conn_id": ""}, "alert_slack_conn_id must be a connection id"),
    ],
)
def test_a_malformed_alert_setting_is_named(raw, message):
    with pytest.raises(ValueError, match="avepoint_onboarding") as caught:
        OnboardingSettings.from_mapping(raw)
    assert message in str(caught.value)


# -- content -----------------------------------------------------------------------------------------


def test_scrub_removes_every_email_address_shape():
    text = "mail Ann.Lee+x@Contoso.example, <bob@sub.example.org> or 'c@d'"
    assert scrub(text) == f"mail {REDACTED}, <{REDACTED}> or '{REDACTED}'"


@pytest.mark.parametrize(
    "address",
    [
        '"john doe"@example.com',
        '"john.doe"@example.com',
        '"a\\"b@c"@example.com',
        "john@[192.168.0.1]",
        '"john doe"@[IPv6:2001:db8::1]',
    ],
)
def test_scrub_removes_quoted_local_parts_and_address_literals(address):
    text = scrub(f"account {address} exists")

    assert text == f"account {REDACTED} exists"
    assert "john" not in text and "@" not in text


def test_the_payload_names_why_and_each_row_without_email_addresses():
    payload = onboarding_payload(summary(), dag_id="d", stop_reason=None, alert_on=ALERT_REASONS)

    assert payload["triggers"] == ["conflict", "rejected", "invalid"]
    assert payload["headline"] == "3 customer row(s) need a human"
    assert [r["customer_key"] for r in payload["rows"]] == ["BAD-1", "TAKEN", "SELF"]
    assert "@" not in json.dumps(payload["rows"])


def test_alert_on_limits_what_sets_off_an_alert():
    assert onboarding_payload(summary(), dag_id="d", stop_reason=None, alert_on=("failed",)) is None
    stopped = onboarding_payload(
        summary(counts={}, needing_human=[]), dag_id="d", stop_reason="HTTP 403", alert_on=("stopped",)
    )
    assert (stopped["triggers"], stopped["headline"]) == (["stopped"], "Run stopped")
    assert onboarding_payload(summary(), dag_id="d", stop_reason=None, alert_on=()) is None


def test_the_rendered_mail_escapes_html_and_renders_no_template_from_a_reason():
    payload = onboarding_payload(summary(), dag_id="d", stop_reason=None, alert_on=ALERT_REASONS)

    subject, html, text = render(payload)

    assert subject.startswith("[AvePoint onboarding] 3 customer row(s) need a human")
    assert "<td>Org &lt;b&gt;1&lt;/b&gt;</td>" in html
    assert "{{ 7 * 7 }}" in html and "49" not in html
    assert "• *TAKEN* Org T · _conflict_:" in text
    assert "Org &lt;b&gt;1&lt;/b&gt;" in text  # Slack's own escaping
    assert "@" not in html + text


# -- Slack, through SlackWebhookNotifier -------------------------------------------------------------


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200  # a test sets 500 for a Slack that fails

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"path": self.path, "body": json.loads(body)})
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"ok" if type(self).status == 200 else b"internal_error")

    def log_message(self, *args):
        pass


@pytest.fixture
def slack_webhook(monkeypatch):
    """A local HTTP server standing in for Slack's incoming webhook, ``slack_ops`` pointing at it."""
    _Webhook.received = []
    _Webhook.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    set_connection(
        monkeypatch,
        "slack_ops",
        conn_type="slackwebhook",
        host=f"http://127.0.0.1:{server.server_address[1]}",
        password="/services/T000/B000/XXXX",
    )
    yield _Webhook.received
    server.shutdown()


@pytest.mark.integration
@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_slack_gets_one_message_when_its_connection_exists(warehouse, slack_webhook):
    from types import SimpleNamespace

    from include.onboarding.alerts import owe_and_send

    settings = OnboardingSettings.from_mapping({"alert_slack_conn_id": "slack_ops"})
    payload = onboarding_payload(summary(), dag_id="d", stop_reason=None, alert_on=ALERT_REASONS)
    context = {"dag": SimpleNamespace(dag_id="d"), "run_id": payload["run_id"]}

    first = owe_and_send(context, settings, payload)
    second = owe_and_send(context, settings, payload)  # a retried finish

    assert [(r["sent"], r["failed"], r["cannot_send"]) for r in (first, second)] == [(1, 0, {}), (0, 0, {})]
    assert [m["path"] for m in slack_webhook] == ["/services/T000/B000/XXXX"]
    assert "*TAKEN*" in slack_webhook[0]["body"]["text"]


@pytest.mark.integration
@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_a_slack_connection_that_does_not_exist_means_no_slack_alert(warehouse):
    from types import SimpleNamespace

    from include.onboarding.alerts import channels, owe_and_send

    settings = OnboardingSettings.from_mapping({"alert_slack_conn_id": "slack_nowhere"})
    payload = onboarding_payload(summary(), dag_id="d", stop_reason=None, alert_on=ALERT_REASONS)

    assert channels(settings) == []
    result = owe_and_send({"dag": SimpleNamespace(dag_id="d")}, settings, payload)
    assert (result["channels"], result["sent"], result["failed"]) == ([], 0, 0)
    assert alert_rows(warehouse, "d", payload["run_id"]) == []


# -- the durable marker ------------------------------------------------------------------------------


@pytest.mark.integration
def test_an_owed_alert_is_leased_by_one_sender_and_a_fresh_lease_is_never_taken_again(warehouse):
    from datetime import timedelta

    from include.onboarding.ops_store import OperationsWarehouse

    store = OperationsWarehouse("customer_warehouse")
    store.create_operations_tables()
    store.owe_alert("d", "r1", ["email"], {"n": 1})
    store.owe_alert("d", "r1", ["email"], {"n": 2})  # a retried finish: nothing changes
    hour = timedelta(hours=1)

    first = store.lease_alert("d", "r1", "email", stale_after=hour)
    second = store.lease_alert("d", "r1", "email", stale_after=hour)

    assert first is not None and first[1] == {"n": 1}
    assert second is None  # held by the first sender (who may have sent it and died)
    assert store.owed_alerts(stale_after=hour, per_channel=20) == []
    # Only once the lease is older than the stale timeout is the alert taken again.
    assert [a["run_id"] for a in store.owed_alerts(stale_after=timedelta(0), per_channel=20)] == ["r1"]
    retaken = store.lease_alert("d", "r1", "email", stale_after=timedelta(0))
    assert retaken is not None and retaken[2] == 2
    store.settle_alert("d", "r1", "email", retaken[0], outcome="sent")
    assert store.owed_alerts(stale_after=timedelta(0), per_channel=20) == []
    [row] = alert_rows(store, "d", "r1")
    assert (row["outcome"], row["attempts"]) == ("sent", 2) and row["sent_at"] is not None


# -- delivery: per channel, an attempt cap, a fixed lease, the sender, what cannot send (issue 16 item 5) --


@pytest.fixture
def context():
    from airflow.sdk import DAG

    return {"dag": DAG("d", schedule=None), "run_id": "now"}


@pytest.fixture
def ops_store(warehouse):
    from include.onboarding.ops_store import OperationsWarehouse

    store = OperationsWarehouse("customer_warehouse")
    store.create_operations_tables()
    yield store
    store.dispose()


def owe(store, run_id: str, channel: str, *, hours_ago: float = 0) -> None:
    store.owe_alert("d", run_id, [channel], {**onboarding_payload(
        summary(run_id=run_id), dag_id="d", stop_reason=None, alert_on=ALERT_REASONS
    )})  # fmt: skip
    if hours_ago:
        from datetime import UTC, datetime, timedelta

        created = datetime.now(UTC) - timedelta(hours=hours_ago)
        aged = created.isoformat(sep=" ") if store.dialect == "sqlite" else created
        run_sql(
            store,
            f"UPDATE {store.table_name.with_suffix('_alerts').quoted} SET created_at = :at WHERE run_id = :r",
            {"at": aged, "r": run_id},
        )


@pytest.mark.integration
@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_failing_slack_alerts_never_hold_back_the_email_alerts(
    ops_store, context, slack_webhook, smtp_server
):
    from include.onboarding.alerts import send_owed

    _Webhook.status = 500
    for n in range(25):
        owe(ops_store, f"slack-{n:02d}", "slack", hours_ago=48 - n)
    owe(ops_store, "mail-1", "email")
    settings = OnboardingSettings.from_mapping(
        {"alert_emails": ["ops@partner.example"], "alert_slack_conn_id": "slack_ops"}
    )

    result = send_owed(context, settings, ops_store)

    assert len(smtp_server.messages) == 1 and "mail-1" in smtp_server.messages[0].body
    assert result["sent"] == 1
    assert [r["outcome"] for r in alert_rows(ops_store, "d", "mail-1")] == ["sent"]


@pytest.mark.integration
@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_an_alert_that_keeps_failing_is_set_aside_as_dead_after_ten_attempts(
    ops_store, context, slack_webhook
):
    from include.onboarding.alerts import send_owed

    _Webhook.status = 500
    owe(ops_store, "r1", "slack")
    settings = OnboardingSettings.from_mapping({"alert_slack_conn_id": "slack_ops"})

    results = [send_owed(context, settings, ops_store) for _ in range(11)]

    assert len(slack_webhook) == 10  # the eleventh pass finds nothing owed
    [row] = alert_rows(ops_store, "d", "r1")
    assert (row["outcome"], row["attempts"], row["sent_at"]) == ("dead", 10, None)
    assert "500" in row["last_error"]
    assert [r["dead"] for r in results] == [0] * 9 + [1, 1]


@pytest.mark.integration
@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_a_lease_lasts_a_fixed_time_however_short_the_claim_timeout(ops_store, context, smtp_server):
    from datetime import timedelta

    from include.onboarding.alerts import send_owed

    owe(ops_store, "r1", "email")
    settings = OnboardingSettings.from_mapping(
        {"alert_emails": ["ops@partner.example"], "claim_timeout_minutes": 1}
    )
    assert ops_store.lease_alert("d", "r1", "email", stale_after=timedelta(hours=1)) is not None
    alerts = ops_store.table_name.with_suffix("_alerts").quoted

    def lease_taken(minutes_ago: int) -> None:
        from datetime import UTC, datetime

        at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        run_sql(ops_store, f"UPDATE {alerts} SET sending_at = :at", {"at": at.isoformat(sep=" ")})

    lease_taken(5)  # another finish is sending it right now (an SMTP server that is slow)
    assert send_owed(context, settings, ops_store)["sent"] == 0
    assert smtp_server.messages == []

    lease_taken(120)  # that sender died long ago
    assert send_owed(context, settings, ops_store)["sent"] == 1
    assert len(smtp_server.messages) == 1


@pytest.mark.integration
@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("setting", "sender"),
    [
        ("AIRFLOW__EMAIL__FROM_EMAIL", "Airflow <alerts@ops.example>"),
        ("AIRFLOW__SMTP__SMTP_MAIL_FROM", "smtp-from@ops.example"),
    ],
)
def test_without_from_email_in_the_connection_the_sender_is_airflows_own(
    ops_store, context, smtp_server, monkeypatch, setting, sender
):
    from include.onboarding.alerts import send_owed
    from tests.support.smtp import smtp_connection

    connection = smtp_connection(smtp_server.port)
    del connection["extra"]["from_email"]
    set_connection(monkeypatch, "smtp_default", **connection)
    monkeypatch.setenv(setting, sender)
    owe(ops_store, "r1", "email")
    settings = OnboardingSettings.from_mapping({"alert_emails": ["ops@partner.example"]})

    assert send_owed(context, settings, ops_store)["sent"] == 1
    assert [m.sender for m in smtp_server.messages] == [sender.split("<")[-1].rstrip(">")]


@pytest.mark.integration
@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_a_channel_that_cannot_send_is_named_in_what_the_step_returns(ops_store, context, monkeypatch):
    from include.onboarding.alerts import send_owed

    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    owe(ops_store, "r1", "email")
    settings = OnboardingSettings.from_mapping({"alert_emails": ["ops@partner.example"]})

    result = send_owed(context, settings, ops_store)

    assert "smtp_default" in result["cannot_send"]["email"]
    [row] = alert_rows(ops_store, "d", "r1")
    assert (row["outcome"], row["attempts"]) == (None, 0)  # still owed, no attempt used up
