"""The onboarding DAG end to end with dag.test(), against the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import avepoint_connection, set_connection
from tests.dags.conftest import customer
from tests.support.rows import make_customer, run_sql
from tools.demo.customers import US_GOV

pytestmark = pytest.mark.integration

DAG_ID = "avepoint_customer_onboarding"
OTHER_PARTNER = "taken@elsewhere.example"
ALREADY_OURS = "ours@initech.example"


MIX = [
    customer("OK-1"),
    customer("OK-2", tags=["vip", "eu"], telephone_number="+1 206 555 0101", management_mode=True),
    customer("BAD-1", country_code="us", data_center=US_GOV),
    customer("TAKEN", registration_account=OTHER_PARTNER),
    customer("OURS", registration_account=ALREADY_OURS),
    customer("SELF", registration_account="partner@sandbox.example"),
]


@pytest.fixture
def run_dag(dag, airflow_db, sandbox, warehouse):
    """Run the DAG once with dag.test(); returns the DagRun."""

    def run(**params):
        # Always every param: dag.test() keeps a previous run_conf on the DAG object.
        return dag.test(run_conf={"dry_run": False, "max_customers": 500, "customer_keys": []} | params)

    return run


def rows(warehouse) -> dict[str, dict]:
    return {r["customer_key"]: r for r in warehouse.rows([c["customer_key"] for c in MIX])}


def xcom_values(run_id: str) -> list[str]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return [json.dumps(x.value) for x in session.query(XComModel).filter(XComModel.run_id == run_id)]


def task_states(run_id: str) -> dict[tuple[str, int], tuple[str, str | None]]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.run_id == run_id)
        return {(ti.task_id, ti.map_index): (ti.state, ti.rendered_map_index) for ti in tis}


def test_a_run_onboards_valid_rows_and_gives_every_other_row_a_reason(run_dag, sandbox, warehouse):
    sandbox.seed(customers=[{"registrationAccount": ALREADY_OURS, "organizationName": "Initech", "countryCode": "US"}],
                 other_partner_accounts=[OTHER_PARTNER])  # fmt: skip
    warehouse.add_customers(MIX)

    run = run_dag()

    assert run.state == "success"
    table = rows(warehouse)
    assert {k: r["status"] for k, r in table.items()} == {
        "OK-1": "onboarded",
        "OK-2": "onboarded",
        "BAD-1": "invalid",
        "TAKEN": "conflict",
        "OURS": "onboarded",
        "SELF": "rejected",
    }
    assert table["BAD-1"]["status_reason"] == (
        "country_code is not one of the 249 two-letter country codes AvePoint accepts (capital letters, e.g. US); "
        "data_center belongs to the US Government cloud, but the AvePoint connection is for the commercial cloud"
    )
    assert "another partner" in table["TAKEN"]["status_reason"]
    assert "status 6" in table["SELF"]["status_reason"]
    assert all(table[k]["avepoint_customer_id"] for k in ("OK-1", "OK-2", "OURS"))
    assert table["OK-1"]["api_status"] == 1 and table["OURS"]["api_status"] == 5

    # Onboarded rows lost their password; the others keep it for a later attempt.
    profiles = warehouse.password_profiles(list(table))
    assert sorted(k for k, p in profiles.items() if p["password_missing"]) == ["OK-1", "OK-2", "OURS"]

    inspect = sandbox.inspect()
    # The only POST for an existing customer is the one that learned "already ours" (status 5).
    assert inspect["posts_after_creation"] == {ALREADY_OURS: 1}
    assert set(inspect["creations_per_account"]) == {"ok-1@customers.example", "ok-2@customers.example"}
    created = {c["ownerEmail"]: c for c in inspect["customers"]}
    assert created["ok-2@customers.example"]["managementMode"] == 1

    # No password in any XCom of the run; mapped tasks carry "key · organization — outcome" labels, no
    # e-mail, and a customer needing a human is a failed task in a successful run.
    values = "\n".join(xcom_values(run.run_id))
    assert not any(c["password"] in values for c in MIX)
    labels = {v[1]: v[0] for (task, _), v in task_states(run.run_id).items() if task == "onboard_customer"}
    assert labels == {
        "OK-1 · Org OK-1 — onboarded": "success",
        "OK-2 · Org OK-2 — onboarded": "success",
        "TAKEN · Org TAKEN — conflict": "failed",
        "OURS · Org OURS — onboarded": "success",
        "SELF · Org SELF — rejected": "failed",
    }
    # Their results are still each task's XCom, as a done customer's is.
    results = [json.loads(v) for v in values.split("\n")]
    assert {r["customer_key"]: r["status"] for r in results if isinstance(r, dict) and "attempt" in r} == {
        "OK-1": "onboarded", "OK-2": "onboarded", "TAKEN": "conflict", "OURS": "onboarded", "SELF": "rejected"
    }  # fmt: skip


def test_a_dry_run_changes_nothing_and_calls_no_api(run_dag, sandbox, warehouse):
    warehouse.add_customers(MIX)
    before = rows(warehouse)

    run = run_dag(dry_run=True)

    assert run.state == "success"
    assert rows(warehouse) == before
    assert sandbox.inspect()["requests"] == {"token": 0, "onboard": 0, "list": 0}
    report = [json.loads(v) for v in xcom_values(run.run_id)]
    summary = next(v for v in report if isinstance(v, dict) and v.get("dry_run") is True and "counts" in v)
    assert summary["claimed"] == len(MIX)


def test_finish_recovers_the_row_of_a_failed_mapped_task(run_dag, sandbox, warehouse, monkeypatch):
    from avepoint_provider.hooks.avepoint import AvePointHook

    real = AvePointHook.onboard_customer

    def crash_for_ok_2(self, customer, **kwargs):
        if customer.registration_account.startswith("ok-2"):
            raise RuntimeError("worker crashed mid-call")
        return real(self, customer, **kwargs)

    monkeypatch.setattr(AvePointHook, "onboard_customer", crash_for_ok_2)
    warehouse.add_customers(MIX[:2])

    run = run_dag()

    assert run.state == "failed"
    table = rows(warehouse)
    assert table["OK-1"]["status"] == "onboarded"
    assert table["OK-2"]["status"] == "retry"
    assert "ended without recording an outcome" in table["OK-2"]["status_reason"]
    assert table["OK-2"]["attempts"] == 3  # the task's three tries, each counted before sending


def test_a_missing_scope_stops_the_run_and_returns_rows_untouched(run_dag, sandbox, warehouse, monkeypatch):
    set_connection(
        monkeypatch,
        "avepoint_default",
        **avepoint_connection(sandbox.server, scope="elements.customers.read.all"),
    )
    warehouse.add_customers(MIX[:2])

    run = run_dag()

    assert run.state == "failed"
    table = rows(warehouse)
    assert {r["status"] for r in table.values()} == {"pending"}
    assert all(r["attempts"] == 0 for r in table.values())
    assert all("stopped" in r["status_reason"] for r in table.values())
    assert sandbox.inspect()["creations_per_account"] == {}


def test_lost_responses_create_each_customer_exactly_once(run_dag, sandbox, warehouse):
    sandbox.script("ok-1@customers.example", [{"lost": "drop"}])
    sandbox.script("ok-2@customers.example", [{"lost": "500"}, {"http_status": 503}])
    warehouse.add_customers(MIX[:2])

    run = run_dag()

    assert run.state == "success"
    assert {r["status"] for r in rows(warehouse).values()} == {"onboarded"}
    inspect = sandbox.inspect()
    assert inspect["creations_per_account"] == {"ok-1@customers.example": 1, "ok-2@customers.example": 1}
    assert inspect["posts_after_creation"] == {}
    assert inspect["posts_per_account"] == {"ok-1@customers.example": 1, "ok-2@customers.example": 1}


def test_no_secret_reaches_the_logs_or_xcom(run_dag, sandbox, warehouse, capfd):
    sandbox.script("ok-1@customers.example", [{"http_status": 500}, {"lost": "500"}])
    warehouse.add_customers(MIX)

    run = run_dag()

    output = "\n".join(capfd.readouterr())
    assert "Customer OK-1 (Org OK-1): attempt 1 of 5" in output  # the logs were captured
    secrets = [c["password"] for c in MIX] + ["sandbox-secret"] + sandbox.inspect()["tokens_issued"]
    assert sandbox.inspect()["tokens_issued"], "the run should have used a token"
    leaked = [s for s in secrets if s in output]
    assert leaked == [], "secrets in the task logs"
    values = "\n".join(xcom_values(run.run_id))
    assert [s for s in secrets if s in values] == []


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)  # the count is in SQL common to both
def test_a_retried_finish_still_fails_the_run_whose_rows_it_recovered(
    run_dag, sandbox, warehouse, monkeypatch
):
    """finish_run's first try recovers a row and then fails; its retry recovers nothing new but fails the run."""
    from avepoint_provider.hooks.avepoint import AvePointHook
    from include.onboarding import run_note

    real_onboard, real_publish = AvePointHook.onboard_customer, run_note.publish_note
    publications: list[str] = []

    def crash_for_ok_2(self, customer, **kwargs):
        if customer.registration_account.startswith("ok-2"):
            raise RuntimeError("worker crashed mid-call")
        return real_onboard(self, customer, **kwargs)

    def publish_fails_once(dag_id, run_id, note, conn_id):
        publications.append(run_id)
        if len(publications) == 1:
            raise RuntimeError("the API server went away")
        return real_publish(dag_id, run_id, note, conn_id)

    monkeypatch.setattr(AvePointHook, "onboard_customer", crash_for_ok_2)
    monkeypatch.setattr(run_note, "publish_note", publish_fails_once)
    warehouse.add_customers(MIX[:2])

    run = run_dag()

    assert len(publications) == 2, "finish_run should have been tried twice"
    assert run.state == "failed"
    assert rows(warehouse)["OK-2"]["status"] == "retry"
    finish = {k: v for k, v in task_states(run.run_id).items() if k[0] == "finish_run"}
    assert [state for state, _ in finish.values()] == ["failed"]


UNDECODABLE_PASSWORD = (
    b"Geheimes-Pa\xdfw\xf6rt-1"  # Windows-1252 text, as the sqlite3 CLI's .import stores it
)
UNDECODABLE_NAME = b"Jos\xe9"


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_text_that_is_not_utf8_makes_its_row_invalid_and_the_others_go_on(
    run_dag, sandbox, warehouse, capfd, caplog
):
    """A Windows-1252 CSV imported into SQLite as is: the row is invalid naming the column, never its value."""

    warehouse.add_customers(MIX[:2] + [customer("BAD-PW"), customer("BAD-FN")])
    for key, column, value in (
        ("BAD-PW", "password", UNDECODABLE_PASSWORD),
        ("BAD-FN", "first_name", UNDECODABLE_NAME),
    ):
        run_sql(warehouse, f"UPDATE {warehouse.table} SET {column} = CAST(:v AS TEXT) WHERE customer_key = :k",
                {"v": value, "k": key})  # fmt: skip

    run = run_dag()

    assert run.state == "success"
    table = {r["customer_key"]: r for r in warehouse.rows(["OK-1", "OK-2", "BAD-PW", "BAD-FN"])}
    assert {k: r["status"] for k, r in table.items()} == {
        "OK-1": "onboarded",
        "OK-2": "onboarded",
        "BAD-PW": "invalid",
        "BAD-FN": "invalid",
    }
    not_utf8 = "is not valid UTF-8 text (re-import the data as UTF-8; the value is not shown)"
    assert table["BAD-PW"]["status_reason"] == f"password {not_utf8}"
    assert table["BAD-FN"]["status_reason"] == f"first_name {not_utf8}"
    assert table["BAD-PW"]["attempts"] == 0  # counted, then taken back: nothing was sent
    assert set(sandbox.inspect()["posts_per_account"]) == {"ok-1@customers.example", "ok-2@customers.example"}

    # dag.test() prints the task runner's lines; the project's modules log through logging (caplog).
    output = "\n".join(capfd.readouterr()) + "\n" + caplog.text
    assert "Customer OK-1 (Org OK-1): attempt 1 of 5" in output  # the logs were captured
    assert "Customer BAD-FN is invalid: first_name is not valid UTF-8 text" in output
    for text in (UNDECODABLE_PASSWORD, UNDECODABLE_NAME):
        for spelling in (
            text.decode("cp1252"),
            text.decode("utf-8", "replace"),
            repr(text)[2:-1],
            text.hex(),
        ):
            assert spelling not in output
    assert "Geheimes" not in output and "Jos" not in output


# -- a user's own table on PostgreSQL ------------------------------------------------------------------


@pytest.fixture
def user_database(postgres_db, monkeypatch):
    """A fresh PostgreSQL warehouse whose timezone is far from UTC, configured to crm.customer_onboarding."""
    import psycopg

    from tests.support.postgres import postgres_connection

    with psycopg.connect(postgres_db, autocommit=True) as conn:
        # A naive timestamp read in this zone would be 13 hours off: the pipeline must read UTC.
        conn.execute(f"ALTER DATABASE \"{postgres_db.rsplit('/', 1)[1]}\" SET timezone TO 'Pacific/Auckland'")
    set_connection(monkeypatch, "customer_warehouse", **postgres_connection(postgres_db))
    monkeypatch.setenv("AIRFLOW_VAR_AVEPOINT_ONBOARDING", json.dumps({"table": "crm.customer_onboarding"}))
    return postgres_db


def user_rows(url: str) -> dict[str, dict]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, row_factory=dict_row) as conn:
        return {r["customer_key"]: r for r in conn.execute("SELECT * FROM crm.customer_onboarding")}


@pytest.mark.postgres
def test_a_users_own_table_in_its_own_types_is_onboarded(dag, airflow_db, sandbox, user_database, caplog):
    """jsonb tags, uuid data center, char(2) country, naive timestamps, no previous_status column."""
    from tests.support.user_table import create_user_table, insert_user_rows

    create_user_table(user_database)
    utc_now = datetime.now(UTC).replace(tzinfo=None)
    insert_user_rows(
        user_database,
        [
            make_customer("U-OK-1", tags=["vip", "eu"], management_mode=True, requested_at=utc_now - timedelta(minutes=5)),
            make_customer("U-OK-2", telephone_number="+1 206 555 0101", requested_at=utc_now - timedelta(minutes=5)),
            make_customer("U-BAD", country_code="us", tags={"vip": True}, requested_at=utc_now - timedelta(minutes=5)),
            # Half an hour from now in UTC: not this run's (read in Auckland time it would be 12.5 hours ago).
            make_customer("U-LATER", requested_at=utc_now + timedelta(minutes=30)),
        ],
    )  # fmt: skip

    run = dag.test(run_conf={"dry_run": False, "max_customers": 500, "customer_keys": []})

    assert run.state == "success"
    table = user_rows(user_database)
    assert {k: r["status"] for k, r in table.items()} == {
        "U-OK-1": "onboarded",
        "U-OK-2": "onboarded",
        "U-BAD": "invalid",
        "U-LATER": "pending",
    }
    assert table["U-BAD"]["status_reason"] == (
        "country_code is not one of the 249 two-letter country codes AvePoint accepts (capital letters, e.g. US); "
        "tags is not a JSON array of strings"
    )
    created = {c["ownerEmail"]: c for c in sandbox.inspect()["customers"]}
    for key in ("U-OK-1", "U-OK-2"):
        row = table[key]
        assert row["avepoint_customer_id"] == created[f"{key.lower()}@customers.example"]["id"]
        assert row["password"] is None and row["previous_status"] == "pending"
        # Naive timestamps hold UTC, whatever the database's own zone.
        assert abs(row["claimed_at"] - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=10)
    assert created["u-ok-1@customers.example"]["tags"] == ["vip", "eu"]
    assert created["u-ok-1@customers.example"]["managementMode"] == 1
    # The project's modules log through logging (caplog); dag.test() prints the task runner's own lines.
    assert 'Adding the project\'s column previous_status to "crm"."customer_onboarding"' in caplog.text


@pytest.mark.postgres
def test_a_users_table_without_a_contract_column_stops_before_claiming(
    dag, airflow_db, sandbox, user_database, capfd
):
    from tests.support.user_table import create_user_table, insert_user_rows

    create_user_table(user_database, without=("api_status", "claimed_at"))
    insert_user_rows(user_database, [make_customer("U-1", requested_at=datetime(2026, 1, 1))])

    run = dag.test(run_conf={"dry_run": False, "max_customers": 500, "customer_keys": []})

    assert run.state == "failed"
    prepare = {
        k: v for k, v in task_states(run.run_id).items() if k[0] in ("prepare_table", "claim_customers")
    }
    assert {task: state for (task, _), (state, _) in prepare.items()} == {
        "prepare_table": "failed",
        "claim_customers": "upstream_failed",
    }
    output = "\n".join(capfd.readouterr())
    assert (
        'table "crm"."customer_onboarding" lacks the contract\'s column(s) api_status, claimed_at; nothing was claimed. '
        'Add them, e.g.: ALTER TABLE "crm"."customer_onboarding" ADD COLUMN api_status INTEGER; '
        'ALTER TABLE "crm"."customer_onboarding" ADD COLUMN claimed_at TIMESTAMPTZ'
    ) in output
    row = user_rows(user_database)["U-1"]
    assert (row["status"], row["claimed_by"], row["attempts"]) == ("pending", None, 0)
    assert sandbox.inspect()["requests"] == {"token": 0, "onboard": 0, "list": 0}


def xcom_strings(value) -> list[str]:
    """Every string inside an XCom value (dict keys and values, list items)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in xcom_strings(k) + xcom_strings(v)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in xcom_strings(item)]
    return []


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)  # PostgreSQL cannot store either key
def test_keys_with_a_nul_or_not_utf8_are_invalid_and_never_reach_xcom(run_dag, sandbox, warehouse, caplog):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    warehouse.add_customers([customer("OK-1"), customer("NUL\x00KEY", registration_account="nul@customers.example"),
                             customer("CP1252", registration_account="cp@customers.example")])  # fmt: skip
    run_sql(warehouse, f"UPDATE {warehouse.table} SET customer_key = CAST(:v AS TEXT) WHERE customer_key = 'CP1252'",
            {"v": b"K\xe9Y"})  # fmt: skip

    run = run_dag()

    assert run.state == "success"
    statuses = run_sql(warehouse, f"SELECT hex(customer_key), status, status_reason FROM {warehouse.table}")
    assert sorted(statuses) == sorted(
        [
            ("4F4B2D31", "onboarded", statuses[0][2] if statuses[0][0] == "4F4B2D31" else statuses[1][2]),
            (b"NUL\x00KEY".hex().upper(), "invalid",
             "customer_key contains control or invisible characters (such as NUL or a right-to-left override)"),
            ("4BE959", "invalid", "customer_key is not valid UTF-8 text (re-import the data as UTF-8; the value is not shown)"),
        ]
    )  # fmt: skip
    with create_session() as session:
        values = [x.value for x in session.query(XComModel).filter(XComModel.run_id == run.run_id)]
    strings = [s for v in values for s in xcom_strings(v)]
    assert not [s for s in strings if "\x00" in s or "\ufffd" in s or "é" in s]
    # The run's summary (its log and note) names both rows the way a person can read them.
    summary = caplog.text[caplog.text.index("Run summary") :]
    assert r"**NUL\\u0000KEY**" in summary  # the escape, itself escaped for Markdown
    assert "**(not valid UTF-8)**" in summary
    assert "\x00" not in caplog.text
    assert set(sandbox.inspect()["posts_per_account"]) == {"ok-1@customers.example"}


# -- data is never code ---------------------------------------------------------------------------------

CLIENT_SECRET = "sandbox-secret"  # the avepoint_default connection's password (tests/conftest.py)
# Warehouse text that Jinja would act on: each row must be sent as written, and act on itself only.
TEMPLATED = [
    customer("K{{ 6*7 }}", registration_account="k42@customers.example"),
    customer("ORG-SECRET", organization_name="{{ conn.avepoint_default.password }}"),
    customer("{{ 'TWIN' }}", registration_account="twin-template@customers.example"),
    customer("TWIN", registration_account="twin@customers.example"),
    customer("{% if true %}IF{% endif %}", registration_account="if@customers.example",
             first_name="{# a note #}Ann", last_name="{% raw %}Lee", organization_name="Org {# x #} {% set y = 1 %}"),
    customer("BROKEN {{ 6*", registration_account="broken@customers.example", organization_name="{{ 6*"),
]  # fmt: skip


def metadata_database_text(run_id: str) -> str:
    """Every value Airflow's metadata database holds for ``run_id`` (every row of tables without a run id)."""
    import sqlite3

    from airflow.configuration import conf

    path = conf.get("database", "sql_alchemy_conn").removeprefix("sqlite:///")
    texts = []
    with sqlite3.connect(path) as db:
        db.text_factory = lambda b: b.decode("utf-8", "replace")
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            columns = [c[1] for c in db.execute(f'PRAGMA table_info("{table}")')]
            where = " WHERE run_id = ?" if "run_id" in columns else ""
            for row in db.execute(f'SELECT * FROM "{table}"{where}', (run_id,) if where else ()):
                texts += [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row]
    return "\n".join(texts)


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_warehouse_text_is_never_rendered_as_a_template(run_dag, sandbox, warehouse, capfd, caplog):
    """Keys, names and organizations holding Jinja are sent verbatim, act on their own row, leak nothing."""
    warehouse.add_customers(TEMPLATED)

    run = run_dag()

    assert run.state == "success"
    keys = [c["customer_key"] for c in TEMPLATED]
    table = {r["customer_key"]: r for r in warehouse.rows(keys)}
    assert {k: table[k]["status"] for k in keys} == dict.fromkeys(keys, "onboarded")
    assert run_sql(warehouse, f"SELECT COUNT(*) FROM {warehouse.table}") == [(len(TEMPLATED),)]
    # AvePoint received every field exactly as the warehouse holds it, once per row.
    received = {c["ownerEmail"]: c for c in sandbox.inspect()["customers"]}
    for row in TEMPLATED:
        sent = received[row["registration_account"]]
        assert (sent["organization"], sent["firstName"], sent["lastName"]) == (
            row["organization_name"], row["first_name"], row["last_name"]
        )  # fmt: skip
        assert table[row["customer_key"]]["avepoint_customer_id"] == sent["id"]
    assert sandbox.inspect()["posts_per_account"] == {c["registration_account"]: 1 for c in TEMPLATED}
    # Each task acted on its own row only: one begin, one outcome, under the row's own key.
    events = run_sql(
        warehouse, f"SELECT customer_key FROM {warehouse.events_table} WHERE outcome = 'onboarded'"
    )
    assert sorted(k for (k,) in events) == sorted(keys)

    labels = sorted(v[1] for (task, _), v in task_states(run.run_id).items() if task == "onboard_customer")
    assert labels == sorted(f"{c['customer_key']} · {' '.join(c['organization_name'].split())} — onboarded"
                            for c in TEMPLATED)  # fmt: skip
    output = "\n".join(capfd.readouterr()) + "\n" + caplog.text
    assert "Customer TWIN (Org TWIN): attempt 1 of 5" in output  # the logs were captured
    assert "Customer K{{ 6*7 }} (Org K{{ 6*7 }}): attempt 1 of 5" in output
    secrets = [CLIENT_SECRET, *sandbox.inspect()["tokens_issued"], *(c["password"] for c in TEMPLATED)]
    for where, text in {
        "labels": "\n".join(labels),
        "logs": output,
        "XCom": "\n".join(xcom_values(run.run_id)),
        "metadata database": metadata_database_text(run.run_id),
    }.items():
        assert [s for s in secrets if s in text] == [], f"a secret is in the {where}"
        assert "K42" not in text, f"a key was rendered in the {where}"
