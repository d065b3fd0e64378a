"""The onboarding DAG end to end with dag.test() on a user's own table in MariaDB and in Snowflake.

(PostgreSQL's is in test_onboarding_dag.py, SQLite is the default of every other DAG test.) The
table is the user's, in the types their team picked, in a database whose sessions start far from
UTC; the run goes through the official providers' hooks (``mysql``, ``snowflake``) as a deployment
does, Snowflake's through the real connector patched to fakesnow in this process.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import set_connection
from tests.support.rows import make_customer
from tests.support.user_table import UserTable

pytestmark = pytest.mark.integration


@pytest.fixture(
    params=[
        pytest.param("mariadb", marks=pytest.mark.mariadb),
        pytest.param("snowflake", marks=pytest.mark.snowflake),
    ]
)
def user_table(request, monkeypatch) -> UserTable:
    database = request.getfixturevalue("mariadb_db" if request.param == "mariadb" else "snowflake_account")
    table = UserTable(request.param, database)
    set_connection(monkeypatch, "customer_warehouse", **table.connection())
    settings = {"table": table.table}
    if request.param == "snowflake":
        # The user may not create tables beside their own: the operations tables go to a schema of theirs.
        from tests.support.snowflake import snowflake_sql

        snowflake_sql("CREATE SCHEMA crm.ops")
        settings["operations_schema"] = "crm.ops"
    monkeypatch.setenv("AIRFLOW_VAR_AVEPOINT_ONBOARDING", json.dumps(settings))
    return table


def test_a_users_own_table_on_mariadb_and_snowflake_is_onboarded(dag, airflow_db, sandbox, user_table):
    """JSON/VARIANT tags, a BINARY(16) or text GUID, engine timestamps, no previous_status column."""
    user_table.create()
    utc_now = datetime.now(UTC).replace(tzinfo=None)
    user_table.insert(
        [
            make_customer("U-OK-1", tags=["vip", "eu"], management_mode=True, requested_at=utc_now - timedelta(minutes=5)),
            make_customer("U-OK-2", telephone_number="+1 206 555 0101", requested_at=utc_now - timedelta(minutes=5)),
            make_customer("U-BAD", country_code="us", tags={"vip": True}, requested_at=utc_now - timedelta(minutes=5)),
            make_customer("U-LATER", requested_at=utc_now + timedelta(minutes=30)),
        ]
    )  # fmt: skip

    run = dag.test(run_conf={"dry_run": False, "max_customers": 500, "customer_keys": []})

    assert run.state == "success"
    table = user_table.rows()
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
        assert abs(row["claimed_at"] - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=10)
    assert created["u-ok-1@customers.example"]["tags"] == ["vip", "eu"]
    assert created["u-ok-1@customers.example"]["managementMode"] == 1
    assert created["u-ok-1@customers.example"]["dataCenter"] == make_customer("X")["data_center"]
    if user_table.engine == "snowflake":
        from tests.support.snowflake import snowflake_sql

        tables = snowflake_sql("SELECT table_schema, table_name FROM crm.information_schema.tables")
        assert ("OPS", "CUSTOMERS_EVENTS") in tables and ("PUBLIC", "CUSTOMERS_EVENTS") not in tables
        events = snowflake_sql(
            "SELECT customer_key, outcome FROM crm.ops.customers_events WHERE outcome = 'onboarded'"
        )
        assert sorted(events) == [("U-OK-1", "onboarded"), ("U-OK-2", "onboarded")]
