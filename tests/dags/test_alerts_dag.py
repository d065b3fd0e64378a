"""Alerts end to end: the onboarding DAG with dag.test(), the sandbox and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, avepoint_connection, set_connection
from tests.dags.conftest import customer
from tests.support.rows import alert_rows as support_alert_rows
from tests.support.rows import run_sql
from tests.support.smtp import free_port, smtp_connection

pytestmark = pytest.mark.integration

DAG_ID = "avepoint_customer_onboarding"
OTHER_PARTNER = "taken@elsewhere.example"
RECIPIENT = "ops-team@partner.example"


CLEAN = [customer("OK-1"), customer("OK-2")]
NEEDS_HUMAN = [
    customer("OK-3"),
    customer("BAD-1", country_code="us"),
    customer("TAKEN", registration_account=OTHER_PARTNER),
    customer("SELF", registration_account="partner@sandbox.example"),
]


@pytest.fixture
def alerting(monkeypatch):
    """The Variable with alert recipients (no Slack)."""
    monkeypatch.setenv("AIRFLOW_VAR_AVEPOINT_ONBOARDING", json.dumps({"alert_emails": [RECIPIENT]}))


@pytest.fixture
def run_dag(dag, airflow_db, sandbox, warehouse, alerting):
    def run(**params):
        return dag.test(run_conf={"dry_run": False, "max_customers": 500, "customer_keys": []} | params)

    return run


# The SQL is the same on both warehouses for these: SQLite only, to keep the suite short.
sqlite_only = pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)


def alert_rows(warehouse, run_id: str) -> list[dict]:
    return support_alert_rows(warehouse, DAG_ID, run_id)


def returned(run_id: str, task_id: str = "finish_run"):
    """What a task returned (its XCom), as a person sees it in the UI."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        [xcom] = session.query(XComModel).filter_by(run_id=run_id, task_id=task_id, key="return_value").all()
        value = xcom.value
    return json.loads(value) if isinstance(value, str) else value


def test_a_run_with_rows_needing_a_human_sends_one_mail_naming_them(run_dag, sandbox, warehouse, smtp_server):
    sandbox.seed(other_partner_accounts=[OTHER_PARTNER])
    warehouse.add_customers(NEEDS_HUMAN)

    run = run_dag()

    assert run.state == "success"
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert mail.recipients == [RECIPIENT]
    assert "3 customer row(s) need a human" in mail.subject
    body = mail.body
    for key, status in (("BAD-1", "invalid"), ("TAKEN", "conflict"), ("SELF", "rejected")):
        assert f"<td>{key}</td><td>Org {key}</td><td>{status}</td>" in body
    assert "OK-3" not in body  # onboarded: nothing for a human
    assert f"/dags/{DAG_ID}/runs/" in body
    assert [r["outcome"] for r in alert_rows(warehouse, run.run_id)] == ["sent"]


@sqlite_only
def test_the_mail_holds_no_password_secret_token_or_customer_email(run_dag, sandbox, warehouse, smtp_server):
    sandbox.seed(other_partner_accounts=[OTHER_PARTNER])
    warehouse.add_customers(NEEDS_HUMAN)

    run_dag()

    assert len(smtp_server.messages) == 1
    everything = smtp_server.messages[0].everything
    tokens = sandbox.inspect()["tokens_issued"]
    assert tokens, "the run should have used a token"
    secrets = [c["password"] for c in NEEDS_HUMAN] + [c["registration_account"] for c in NEEDS_HUMAN]
    secrets += ["sandbox-secret", *tokens]
    assert [s for s in secrets if s.lower() in everything.lower()] == []


@sqlite_only
def test_a_clean_run_sends_no_mail(run_dag, sandbox, warehouse, smtp_server):
    warehouse.add_customers(CLEAN)

    run = run_dag()

    assert run.state == "success"
    assert smtp_server.messages == []
    assert alert_rows(warehouse, run.run_id) == []


def test_a_retried_finish_sends_no_second_mail(run_dag, sandbox, warehouse, smtp_server, monkeypatch):
    from include.onboarding import run_note

    calls = []

    def note_fails_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("worker lost after the alert was sent")
        return False

    monkeypatch.setattr(run_note, "publish_note", note_fails_once)
    sandbox.seed(other_partner_accounts=[OTHER_PARTNER])
    warehouse.add_customers(NEEDS_HUMAN)

    run = run_dag()

    assert run.state == "success"
    assert len(calls) == 2, "finish_run should have run twice (one retry)"
    assert len(smtp_server.messages) == 1
    assert [(r["outcome"], r["attempts"]) for r in alert_rows(warehouse, run.run_id)] == [("sent", 1)]


def test_a_mail_server_down_keeps_the_alert_owed_and_the_next_run_sends_it(
    run_dag, sandbox, warehouse, smtp_server, monkeypatch
):
    set_connection(monkeypatch, "smtp_default", **smtp_connection(free_port()))  # nothing listens there
    sandbox.seed(other_partner_accounts=[OTHER_PARTNER])
    warehouse.add_customers(NEEDS_HUMAN)

    first = run_dag()

    assert first.state == "success"
    statuses = {
        r["customer_key"]: r["status"] for r in warehouse.rows([c["customer_key"] for c in NEEDS_HUMAN])
    }
    assert statuses == {"OK-3": "onboarded", "BAD-1": "invalid", "TAKEN": "conflict", "SELF": "rejected"}
    [owed] = alert_rows(warehouse, first.run_id)
    assert owed["sent_at"] is None and owed["attempts"] == 1
    assert "ConnectionRefusedError" in owed["last_error"]
    # Not only a line in the log: the finish step's summary names the channel that cannot send.
    alerts = returned(first.run_id)["alerts"]
    assert "ConnectionRefusedError" in alerts["cannot_send"]["email"]

    set_connection(monkeypatch, "smtp_default", **smtp_connection(smtp_server.port))
    warehouse.add_customers(CLEAN)
    second = run_dag()

    assert second.state == "success"
    assert len(smtp_server.messages) == 1  # the first run's alert; the clean second run owes none
    assert first.run_id in smtp_server.messages[0].body
    assert "<td>TAKEN</td>" in smtp_server.messages[0].body
    assert [r["outcome"] for r in alert_rows(warehouse, first.run_id)] == ["sent"]


@sqlite_only
def test_a_run_stopped_by_a_configuration_error_sends_one_mail(
    run_dag, sandbox, warehouse, smtp_server, monkeypatch
):
    set_connection(
        monkeypatch,
        "avepoint_default",
        **avepoint_connection(sandbox.server, scope="elements.customers.read.all"),
    )
    warehouse.add_customers(CLEAN)

    run = run_dag()

    assert run.state == "failed"
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert "Run stopped" in mail.subject
    assert "Stopped:" in mail.body


@sqlite_only
def test_a_run_whose_warehouse_cannot_be_reached_still_sends_one_mail(
    run_dag, sandbox, warehouse, smtp_server, monkeypatch, tmp_path
):
    set_connection(
        monkeypatch, "customer_warehouse", conn_type="sqlite", host=str(tmp_path / "gone" / "warehouse.db")
    )

    run = run_dag()

    assert run.state == "failed"
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert "finish_run" in mail.subject and run.run_id in mail.body
    assert "OperationalError" in mail.body


@sqlite_only
def test_without_alert_settings_nothing_is_sent_and_the_run_does_not_fail(
    dag, airflow_db, sandbox, warehouse, smtp_server, monkeypatch
):
    monkeypatch.delenv("AIRFLOW_VAR_AVEPOINT_ONBOARDING", raising=False)
    sandbox.seed(other_partner_accounts=[OTHER_PARTNER])
    warehouse.add_customers(NEEDS_HUMAN)

    run = dag.test(run_conf={"dry_run": False, "max_customers": 500, "customer_keys": []})

    assert run.state == "success"
    assert smtp_server.messages == []


@sqlite_only
def test_the_reconciliation_dag_alerts_drift_once_however_many_days_it_stands(
    airflow_db, sandbox, warehouse, smtp_server, alerting
):
    from airflow.dag_processing.dagbag import DagBag

    reconciliation = DagBag(dag_folder=str(ROOT / "dags")).dags["avepoint_customer_reconciliation"]
    warehouse.add_customers([customer("GONE")])
    run_sql(warehouse, f"UPDATE {warehouse.table} SET status = 'onboarded', avepoint_customer_id = 'id-gone'")
    sandbox.seed(
        customers=[
            {
                "id": "id-x",
                "registrationAccount": "x@elsewhere.example",
                "organizationName": "X",
                "countryCode": "US",
            }
        ]
    )

    run = reconciliation.test()
    again = reconciliation.test()  # the next day, the same drift

    assert (run.state, again.state) == ("success", "success")
    assert sandbox.inspect()["requests"]["onboard"] == 0
    assert len(smtp_server.messages) == 1
    body = smtp_server.messages[0].body
    assert "Reconciliation found 1 new difference(s)" in smtp_server.messages[0].subject
    assert "<td>missing_in_avepoint</td><td>GONE</td><td>id-gone</td>" in body
    # id-x was there before this first reconciliation: the baseline, one line, not a row.
    assert "Baseline:</b> 1 customer(s)" in body and "id-x" not in body
    assert "@" not in body.replace(RECIPIENT, "")
    assert returned(again.run_id, "send_alerts")["states"] == {"standing": 1}
