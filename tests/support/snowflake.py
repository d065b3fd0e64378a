"""Snowflake for tests: fakesnow, an emulator on DuckDB, behind the real connector and SnowflakeHook.

``fakesnow.patch()`` replaces ``snowflake.connector.connect`` in this process only, so the
provider's ``SnowflakeHook``, snowflake-sqlalchemy and the connector's own code all run as in a
deployment up to the network call; ``dag.test()`` runs its tasks in this process too. What an
emulator cannot show (locking under real concurrency, warehouse costs) is in the README.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SNOWFLAKE_DATABASE = "CRM"


@contextmanager
def snowflake_emulator() -> Iterator[None]:
    """A fresh, empty emulated account for the ``with`` block (in memory)."""
    import fakesnow

    with fakesnow.patch():
        yield


def snowflake_connection(*, database: str = SNOWFLAKE_DATABASE, schema: str = "PUBLIC") -> dict[str, Any]:
    """Airflow's JSON connection form (type ``snowflake``, the official provider's)."""
    return {
        "conn_type": "snowflake",
        "login": "onboarding",
        "password": "emulated-password",
        "schema": schema,
        "extra": {"account": "fakesnow", "database": database, "warehouse": "ONBOARDING_WH"},
    }


def snowflake_sql(statement: str, params: dict[str, Any] | None = None) -> list[tuple]:
    """Run one statement through the (patched) connector, autocommitted, as a warehouse user would."""
    import snowflake.connector

    with snowflake.connector.connect(
        user="admin", password="emulated", account="fakesnow", database=SNOWFLAKE_DATABASE, schema="PUBLIC"
    ) as conn:
        cursor = conn.cursor()
        cursor.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []
