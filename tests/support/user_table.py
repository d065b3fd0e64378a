"""A customer table as a warehouse team would create it on PostgreSQL, MariaDB or Snowflake: the
contract's columns only, in the types they would pick, without the project's own column
(previous_status)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

# Unquoted identifiers, as a person types them: PostgreSQL folds them to lower case.
USER_TABLE_COLUMNS = {
    "customer_key": "text PRIMARY KEY",
    "first_name": "text NOT NULL",
    "last_name": "text NOT NULL",
    "organization_name": "text NOT NULL",
    "registration_account": "text NOT NULL",
    "country_code": "char(2) NOT NULL",
    "telephone_number": "text",
    "data_center": "uuid NOT NULL",
    "password": "text",
    "tags": "jsonb",
    "management_mode": "boolean",
    "status": "text NOT NULL DEFAULT 'pending'",
    "status_reason": "text",
    "avepoint_customer_id": "text",
    "api_status": "integer",
    "attempts": "integer NOT NULL DEFAULT 0",
    "requested_at": "timestamp NOT NULL",
    "updated_at": "timestamp",
    "claimed_by": "text",
    "claimed_at": "timestamp",
}


def create_user_table(
    url: str, *, table: str = "crm.customer_onboarding", without: tuple[str, ...] = ()
) -> None:
    columns = ", ".join(f"{c} {t}" for c, t in USER_TABLE_COLUMNS.items() if c not in without)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
        conn.execute(f"CREATE TABLE {table} ({columns})")


def insert_user_rows(url: str, rows: list[dict[str, Any]], *, table: str = "crm.customer_onboarding") -> None:
    """Insert rows as the user's loader would; ``tags`` given as a list become jsonb."""
    with psycopg.connect(url, autocommit=True) as conn:
        for row in rows:
            values = {k: json.dumps(v) if k == "tags" and v is not None else v for k, v in row.items()}
            names = ", ".join(values)
            placeholders = ", ".join(f"%({k})s" for k in values)
            conn.execute(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", values)


# -- the same table as a MariaDB/MySQL or a Snowflake team would create it ---------------------------

# MySQL: CHAR(36) key, a BINARY(16) GUID, JSON tags, TINYINT(1) flag, DATETIME and TIMESTAMP without
# fractions, utf8mb4 text compared case-insensitively (the server's default collation family).
MARIADB_COLUMNS = {
    "customer_key": "CHAR(36) PRIMARY KEY",
    "first_name": "VARCHAR(100) NOT NULL",
    "last_name": "VARCHAR(100) NOT NULL",
    "organization_name": "VARCHAR(200) NOT NULL",
    "registration_account": "VARCHAR(320) NOT NULL",
    "country_code": "CHAR(2) NOT NULL",
    "telephone_number": "VARCHAR(40)",
    "data_center": "BINARY(16) NOT NULL",
    "password": "VARCHAR(200)",
    "tags": "JSON",
    "management_mode": "TINYINT(1)",
    "status": "VARCHAR(20) NOT NULL DEFAULT 'pending'",
    "status_reason": "TEXT",
    "avepoint_customer_id": "CHAR(36)",
    "api_status": "INT",
    "attempts": "INT NOT NULL DEFAULT 0",
    "requested_at": "DATETIME NOT NULL",
    "updated_at": "TIMESTAMP NULL",
    "claimed_by": "VARCHAR(250)",
    "claimed_at": "DATETIME NULL",
}

# Snowflake: unquoted names (stored upper case), VARIANT tags, NUMBER, TIMESTAMP_NTZ/TZ/LTZ.
SNOWFLAKE_COLUMNS = {
    "customer_key": "VARCHAR(36) PRIMARY KEY",
    "first_name": "VARCHAR NOT NULL",
    "last_name": "VARCHAR NOT NULL",
    "organization_name": "VARCHAR NOT NULL",
    "registration_account": "VARCHAR NOT NULL",
    "country_code": "CHAR(2) NOT NULL",
    "telephone_number": "VARCHAR",
    "data_center": "VARCHAR(36) NOT NULL",
    "password": "VARCHAR",
    "tags": "VARIANT",
    "management_mode": "BOOLEAN",
    "status": "VARCHAR DEFAULT 'pending' NOT NULL",
    "status_reason": "VARCHAR",
    "avepoint_customer_id": "VARCHAR",
    "api_status": "NUMBER(2,0)",
    "attempts": "NUMBER(38,0) DEFAULT 0 NOT NULL",
    "requested_at": "TIMESTAMP_NTZ NOT NULL",
    "updated_at": "TIMESTAMP_LTZ",
    "claimed_by": "VARCHAR",
    "claimed_at": "TIMESTAMP_TZ",
}


def create_mariadb_user_table(
    database: str,
    *,
    table: str = "customer_onboarding",
    without: tuple[str, ...] = (),
    charset: str = "utf8mb4",
) -> None:
    from tests.support.mariadb import mariadb_sql

    columns = ", ".join(f"{c} {t}" for c, t in MARIADB_COLUMNS.items() if c not in without)
    mariadb_sql(database, f"CREATE TABLE {table} ({columns}) DEFAULT CHARSET={charset}")


def insert_mariadb_user_rows(
    database: str, rows: list[dict[str, Any]], *, table: str = "customer_onboarding"
) -> None:
    """As the user's loader would: tags as JSON text, the data center's GUID as its 16 bytes."""
    import uuid

    from tests.support.mariadb import mariadb_sql

    for row in rows:
        values = {k: json.dumps(v) if k == "tags" and v is not None else v for k, v in row.items()}
        values["data_center"] = uuid.UUID(values["data_center"]).bytes
        placeholders = ", ".join(f"%({k})s" for k in values)
        mariadb_sql(database, f"INSERT INTO {table} ({', '.join(values)}) VALUES ({placeholders})", values)


def mariadb_user_rows(database: str, *, table: str = "customer_onboarding") -> dict[str, dict[str, Any]]:
    """Every row, read in UTC by another session (as the user's own tools would read it)."""
    import MySQLdb
    import MySQLdb.cursors

    from tests.support.mariadb import _server

    conn = MySQLdb.connect(
        **_server(), database=database, charset="utf8mb4", cursorclass=MySQLdb.cursors.DictCursor
    )
    try:
        cursor = conn.cursor()
        cursor.execute("SET time_zone = '+00:00'")
        cursor.execute(f"SELECT * FROM {table}")
        return {r["customer_key"]: r for r in cursor.fetchall()}
    finally:
        conn.close()


def create_snowflake_user_table(
    *, table: str = "crm.public.customers", without: tuple[str, ...] = ()
) -> None:
    from tests.support.snowflake import snowflake_sql

    columns = ", ".join(f"{c} {t}" for c, t in SNOWFLAKE_COLUMNS.items() if c not in without)
    snowflake_sql(f"CREATE TABLE {table} ({columns})")


def insert_snowflake_user_rows(rows: list[dict[str, Any]], *, table: str = "crm.public.customers") -> None:
    """As the user's loader would: tags parsed into a VARIANT."""
    from tests.support.snowflake import snowflake_sql

    for row in rows:
        values = {k: json.dumps(v) if k == "tags" and v is not None else v for k, v in row.items()}
        selected = ", ".join(f"PARSE_JSON(%({k})s)" if k == "tags" else f"%({k})s" for k in values)
        snowflake_sql(f"INSERT INTO {table} ({', '.join(values)}) SELECT {selected}", values)


def snowflake_user_rows(*, table: str = "crm.public.customers") -> dict[str, dict[str, Any]]:
    import snowflake.connector

    with snowflake.connector.connect(
        user="admin", password="emulated", account="fakesnow", database="CRM"
    ) as conn:
        cursor = conn.cursor(snowflake.connector.DictCursor)
        cursor.execute(f"SELECT * FROM {table}")
        return {r["CUSTOMER_KEY"]: {k.lower(): v for k, v in r.items()} for r in cursor.fetchall()}


class UserTable:
    """A user's own customer table on one engine, in a database whose sessions are far from UTC.

    :param engine: ``postgres``, ``mariadb`` or ``snowflake``.
    :param database: the PostgreSQL URL or the MariaDB database (None on Snowflake).
    """

    # The table as the user names it (unquoted) on each engine.
    TABLES = {
        "postgres": "crm.customer_onboarding",
        "mariadb": "customer_onboarding",
        "snowflake": "crm.public.customers",
    }

    def __init__(self, engine: str, database: str | None) -> None:
        self.engine = engine
        self.database = database
        self.table = self.TABLES[engine]

    def connection(self) -> dict[str, Any]:
        """The ``customer_warehouse`` connection; its sessions start in Pacific/Auckland (or +13:00)."""
        if self.engine == "postgres":
            from tests.support.postgres import postgres_connection

            with psycopg.connect(self.database, autocommit=True) as conn:
                name = self.database.rsplit("/", 1)[1]
                conn.execute(f"ALTER DATABASE \"{name}\" SET timezone TO 'Pacific/Auckland'")
            return postgres_connection(self.database)
        if self.engine == "mariadb":
            from tests.support.mariadb import mariadb_connection

            # A server's default zone, as the session starts (SET GLOBAL would reach every test).
            return mariadb_connection(self.database, init_command="SET time_zone = '+13:00'")
        from tests.support.snowflake import snowflake_connection

        connection = snowflake_connection()
        connection["extra"] |= {"session_parameters": {"TIMEZONE": "Pacific/Auckland"}}
        return connection

    def create(self, *, without: tuple[str, ...] = ()) -> None:
        if self.engine == "postgres":
            create_user_table(self.database, table=self.table, without=without)
        elif self.engine == "mariadb":
            create_mariadb_user_table(self.database, table=self.table, without=without)
        else:
            create_snowflake_user_table(table=self.table, without=without)

    def insert(self, rows: list[dict[str, Any]]) -> None:
        if self.engine == "postgres":
            insert_user_rows(self.database, rows, table=self.table)
        elif self.engine == "mariadb":
            insert_mariadb_user_rows(self.database, rows, table=self.table)
        else:
            insert_snowflake_user_rows(rows, table=self.table)

    def rows(self) -> dict[str, dict[str, Any]]:
        """Every row as the user's own tools read it, timestamps in UTC (naive)."""
        if self.engine == "postgres":
            from psycopg.rows import dict_row

            with psycopg.connect(self.database, row_factory=dict_row) as conn:
                conn.execute("SET TIME ZONE 'UTC'")
                rows = {r["customer_key"]: r for r in conn.execute(f"SELECT * FROM {self.table}")}
        elif self.engine == "mariadb":
            rows = mariadb_user_rows(self.database, table=self.table)
        else:
            rows = snowflake_user_rows(table=self.table)
        return {key: {k: _naive_utc(v) for k, v in row.items()} for key, row in rows.items()}


def _naive_utc(value: Any) -> Any:
    from datetime import UTC, datetime

    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
