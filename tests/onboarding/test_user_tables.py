"""A user's own table on PostgreSQL, MariaDB and Snowflake: found as the engine resolves its name,
read in the user's column types, written in UTC whatever the session's zone, and left alone (with
the DDL to run) when it lacks a contract column or may not be altered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from include.onboarding.warehouse import CustomerWarehouse, TableNotReady, WarehouseError
from tests.conftest import set_connection
from tests.support.rows import make_customer
from tests.support.user_table import UserTable

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)
USER_ENGINES = [
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
    pytest.param("snowflake", marks=pytest.mark.snowflake),
]
# How each engine's user may name the table: qualified, and in another case than it was created in
# where the engine folds (PostgreSQL folds to lower case, Snowflake to upper; MySQL keeps the case).
CONFIGURED = {
    "postgres": ["crm.Customer_Onboarding"],
    "mariadb": ["{database}.customer_onboarding"],
    "snowflake": ["crm.public.Customers", '"CRM"."PUBLIC"."CUSTOMERS"'],
}


@pytest.fixture(params=USER_ENGINES)
def user_table(request, monkeypatch) -> UserTable:
    """An engine's fresh database, as ``customer_warehouse``, with no table yet."""
    engine = request.param
    database = {
        "postgres": lambda: request.getfixturevalue("postgres_db"),
        "mariadb": lambda: request.getfixturevalue("mariadb_db"),
        "snowflake": lambda: request.getfixturevalue("snowflake_account"),
    }[engine]()
    table = UserTable(engine, database)
    set_connection(monkeypatch, "customer_warehouse", **table.connection())
    return table


def configured_names(table: UserTable) -> list[str]:
    return [name.format(database=table.database) for name in CONFIGURED[table.engine]]


def test_a_users_table_in_its_own_types_is_claimed_and_settled_in_utc(user_table, caplog):
    """The user's key, GUID, JSON tags, flag and timestamp types; naive timestamps hold UTC although
    every session starts far from it; the project's own column is added, once, saying so."""
    user_table.create()
    now = datetime.now(UTC).replace(tzinfo=None)
    user_table.insert(
        [
            make_customer("U-1", tags=["vip", "eu"], management_mode=True, requested_at=now - 2 * HOUR),
            make_customer("U-2", requested_at=now - HOUR),
            # Half an hour from now in UTC: not this run's (read in the session's zone it would be past).
            make_customer("U-LATER", requested_at=now + HOUR / 2),
        ]
    )
    stores = [CustomerWarehouse("customer_warehouse", name) for name in configured_names(user_table)]
    for store in stores:
        store.prepare()
    assert len({store.table for store in stores}) == 1  # every spelling names the user's table
    assert caplog.text.count("Adding the project's column previous_status") == 1

    assert store.claim(run_id="run-1", interval_end=datetime.now(UTC), limit=10, claim_timeout=HOUR) == [
        "U-1",
        "U-2",
    ]
    rows = {r["customer_key"]: r for r in store.claimed_rows("run-1")}
    assert rows["U-1"]["data_center"] == make_customer("X")["data_center"]
    assert json.loads(rows["U-1"]["tags"]) == ["vip", "eu"]
    assert bool(rows["U-1"]["management_mode"]) is True
    assert store.begin_attempt("U-1", "run-1")["password"] == "Secret-U-1-Pw1!"
    assert store.record_outcome(
        "U-1", "run-1", status="onboarded", reason="created", attempt=1, try_number=1, customer_id="c-1"
    )

    table = user_table.rows()
    assert {k: r["status"] for k, r in table.items()} == {
        "U-1": "onboarded",
        "U-2": "in_progress",
        "U-LATER": "pending",
    }
    settled = table["U-1"]
    assert (settled["password"], settled["avepoint_customer_id"], settled["previous_status"]) == (
        None,
        "c-1",
        "pending",
    )
    utc_now = datetime.now(UTC).replace(tzinfo=None)
    for column in ("claimed_at", "updated_at"):
        assert abs(settled[column] - utc_now) < timedelta(minutes=10), column
    if user_table.engine == "snowflake":
        # The emulator is always in UTC: what proves the zone here is what the real connector was given.
        import snowflake.connector

        given = [c.kwargs.get("session_parameters") for c in snowflake.connector.connect.call_args_list]
        assert {"TIMEZONE": "UTC"} in given and {"TIMEZONE": "Pacific/Auckland"} not in given


def test_a_table_named_in_another_case_is_not_created_beside_the_users(user_table):
    """Where names keep their case (MySQL on Linux, a quoted name elsewhere), a name that differs
    from the user's table only in case is a mistake, not a new table to create."""
    user_table.create()
    other_case = {
        "postgres": '"crm"."Customer_Onboarding"',
        "mariadb": "Customer_Onboarding",
        "snowflake": '"CRM"."PUBLIC"."customers"',
    }[user_table.engine]
    with pytest.raises(TableNotReady, match="differs only in case") as refused:
        CustomerWarehouse("customer_warehouse", other_case).prepare()
    assert "nothing was created" in str(refused.value)


def test_a_users_table_without_a_contract_column_stops_with_the_ddl_to_run(user_table):
    user_table.create(without=("api_status", "claimed_at"))
    store = CustomerWarehouse("customer_warehouse", configured_names(user_table)[0])
    with pytest.raises(TableNotReady) as stopped:
        store.prepare()
    timestamp = store.dialect.types["timestamp"]
    assert str(stopped.value) == (
        f"table {store.table} lacks the contract's column(s) api_status, claimed_at; nothing was claimed. "
        f"Add them, e.g.: ALTER TABLE {store.table} ADD COLUMN api_status INTEGER; "
        f"ALTER TABLE {store.table} ADD COLUMN claimed_at {timestamp}"
    )
    assert {"postgres": '"crm"."customer_onboarding"', "mariadb": f"`{user_table.database}`.`customer_onboarding`",
            "snowflake": '"CRM"."PUBLIC"."CUSTOMERS"'}[user_table.engine] == store.table  # fmt: skip


# -- MariaDB: privileges and character sets ----------------------------------------------------------


@pytest.mark.mariadb
def test_mariadb_user_without_alter_privilege_gets_the_exact_statements(mariadb_db, monkeypatch):
    """The project's column and indexes cannot be added: nothing is claimed, and the message is
    what the table's owner runs once (then the same user may run the pipeline)."""
    import uuid

    from tests.support.mariadb import mariadb_connection, mariadb_sql
    from tests.support.user_table import create_mariadb_user_table

    create_mariadb_user_table(mariadb_db)
    user = f"onboarding_{uuid.uuid4().hex[:8]}"
    mariadb_sql(None, f"CREATE USER '{user}'@'%' IDENTIFIED BY 'Onboarding-Pw-1'")
    try:
        mariadb_sql(None, f"GRANT SELECT, INSERT, UPDATE, CREATE ON `{mariadb_db}`.* TO '{user}'@'%'")
        connection = mariadb_connection(mariadb_db) | {"login": user, "password": "Onboarding-Pw-1"}
        set_connection(monkeypatch, "customer_warehouse", **connection)
        store = CustomerWarehouse("customer_warehouse")
        with pytest.raises(TableNotReady) as stopped:
            store.prepare()
        table = "`customer_onboarding`"
        assert str(stopped.value) == (
            f"the connection's user may not alter table {table}; nothing was claimed. Run once as its owner: "
            f"ALTER TABLE {table} ADD COLUMN previous_status TEXT"
        )
        mariadb_sql(mariadb_db, "ALTER TABLE customer_onboarding ADD COLUMN previous_status TEXT")
        with pytest.raises(TableNotReady) as stopped:
            store.prepare()
        assert str(stopped.value).endswith(
            f"Run once as its owner: CREATE INDEX `customer_onboarding_status_idx` ON {table} "
            "(status, requested_at, customer_key); "
            f"CREATE INDEX `customer_onboarding_claimed_by_idx` ON {table} (claimed_by)"
        )
        mariadb_sql(mariadb_db, str(stopped.value).split("Run once as its owner: ")[1].split("; ")[0])
        mariadb_sql(mariadb_db, str(stopped.value).split("; ")[-1])
        store.prepare()  # the owner ran it: nothing left to alter
    finally:
        mariadb_sql(None, f"DROP USER '{user}'@'%'")


@pytest.mark.mariadb
def test_mariadb_utf8mb3_table_refuses_4_byte_text_with_a_reason(mariadb_db, monkeypatch, caplog):
    """A utf8mb3 table cannot hold an emoji: the pipeline's own text (a reason) is stored with U+FFFD
    instead of failing the run; a customer's own text is refused naming the column and the fix,
    never quoting the value."""
    from tests.support.mariadb import mariadb_connection
    from tests.support.user_table import create_mariadb_user_table, insert_mariadb_user_rows

    create_mariadb_user_table(mariadb_db, charset="utf8mb3")
    insert_mariadb_user_rows(mariadb_db, [make_customer("U-1", requested_at=datetime(2026, 1, 1))])
    set_connection(monkeypatch, "customer_warehouse", **mariadb_connection(mariadb_db))
    store = CustomerWarehouse("customer_warehouse")
    store.prepare()
    store.claim(run_id="run-1", interval_end=datetime.now(UTC), limit=5, claim_timeout=HOUR)
    store.begin_attempt("U-1", "run-1")
    assert store.record_outcome(
        "U-1",
        "run-1",
        status="rejected",
        reason="AvePoint said: name \U0001f680 taken",
        attempt=1,
        try_number=1,
    )
    assert store.row_state("U-1")["status_reason"] == "AvePoint said: name \ufffd taken"
    assert "cannot store 4-byte characters" in caplog.text

    with pytest.raises(WarehouseError) as refused:
        store.add_customers([make_customer("U-2", first_name="Rocket \U0001f680 Ann", password="Leaky-Pw-1")])
    message = str(refused.value)
    assert message.startswith("warehouse statement add_customers failed: OperationalError, error 1366, ")
    assert "CONVERT TO CHARACTER SET utf8mb4" in message and "column first_name" in message
    assert "Rocket" not in message and "Leaky" not in message and "\\x" not in message.lower()


# -- Snowflake: the operations tables in a schema of the user's choosing ----------------------------


@pytest.mark.snowflake
def test_snowflake_operations_tables_in_a_schema_the_user_names(snowflake_account, monkeypatch):
    from include.onboarding.ops_store import OperationsWarehouse
    from tests.support.snowflake import snowflake_connection, snowflake_sql
    from tests.support.user_table import create_snowflake_user_table

    create_snowflake_user_table()
    snowflake_sql("CREATE SCHEMA crm.ops")
    set_connection(monkeypatch, "customer_warehouse", **snowflake_connection())
    store = OperationsWarehouse("customer_warehouse", "crm.public.customers", operations_schema="crm.ops")
    store.prepare()
    store.create_operations_tables()
    tables = snowflake_sql(
        "SELECT table_schema, table_name FROM crm.information_schema.tables WHERE table_name LIKE 'CUSTOMERS%'"
    )
    assert sorted(tables) == [
        ("OPS", "CUSTOMERS_ALERTS"),
        ("OPS", "CUSTOMERS_DRIFT"),
        ("OPS", "CUSTOMERS_DRIFT_STATE"),
        ("OPS", "CUSTOMERS_EVENTS"),
        ("PUBLIC", "CUSTOMERS"),
    ]
    assert store.events_table == '"CRM"."OPS"."CUSTOMERS_EVENTS"'
