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

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"path": self.path, "body": json.loads(body)})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def slack_webhook(monkeypatch):
    """A local HTTP server standing in for Slack's incoming webhook, ``slack_ops`` pointing at it."""
    _Webhook.received = []
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

    from include.onboarding.alerts import deliver

    settings = OnboardingSettings.from_mapping({"alert_slack_conn_id": "slack_ops"})
    payload = onboarding_payload(summary(), dag_id="d", stop_reason=None, alert_on=ALERT_REASONS)
    context = {"dag": SimpleNamespace(dag_id="d"), "run_id": payload["run_id"]}

    first = deliver(context, settings, payload)
    second = deliver(context, settings, payload)  # a retried finish

    assert (first, second) == ({"sent": 1, "failed": 0}, {"sent": 0, "failed": 0})
    assert [m["path"] for m in slack_webhook] == ["/services/T000/B000/XXXX"]
    assert "*TAKEN*" in slack_webhook[0]["body"]["text"]


@pytest.mark.integration
@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_a_slack_connection_that_does_not_exist_means_no_slack_alert(warehouse):
    from types import SimpleNamespace

    from include.onboarding.alerts import channels, deliver
    from include.onboarding.ops_store import OperationsWarehouse

    settings = OnboardingSettings.from_mapping({"alert_slack_conn_id": "slack_nowhere"})
    payload = onboarding_payload(summary(), dag_id="d", stop_reason=None, alert_on=ALERT_REASONS)

    assert channels(settings) == []
    assert deliver({"dag": SimpleNamespace(dag_id="d")}, settings, payload) == {"sent": 0, "failed": 0}
    assert OperationsWarehouse("customer_warehouse").alert_state("d", payload["run_id"]) == []


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
    assert store.owed_alerts(stale_after=hour) == []
    # Only once the lease is older than the stale timeout is the alert taken again.
    assert [a["run_id"] for a in store.owed_alerts(stale_after=timedelta(0))] == ["r1"]
    retaken = store.lease_alert("d", "r1", "email", stale_after=timedelta(0))
    assert retaken is not None
    store.mark_alert_sent("d", "r1", "email", retaken[0])
    assert store.owed_alerts(stale_after=timedelta(0)) == []
    [row] = store.alert_state("d", "r1")
    assert (row["outcome"], row["attempts"]) == ("sent", 2)
