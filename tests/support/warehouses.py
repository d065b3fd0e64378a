"""The four engines a ``customer_warehouse`` connection may point at, as test parameters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import set_connection

# Every engine; tests that cover the seam between the lifecycle and an engine run on all four.
ALL_ENGINES = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
    pytest.param("snowflake", marks=pytest.mark.snowflake),
]


def warehouse_connection(engine: str, request: pytest.FixtureRequest, tmp_path: Any) -> dict[str, Any]:
    """The ``customer_warehouse`` connection of a fresh, empty database on ``engine``."""
    if engine == "sqlite":
        return {"conn_type": "sqlite", "host": str(tmp_path / "warehouse.db")}
    if engine == "postgres":
        from tests.support.postgres import postgres_connection

        return postgres_connection(request.getfixturevalue("postgres_db"))
    if engine == "mariadb":
        from tests.support.mariadb import mariadb_connection

        return mariadb_connection(request.getfixturevalue("mariadb_db"))
    if engine == "snowflake":
        from tests.support.snowflake import snowflake_connection

        request.getfixturevalue("snowflake_account")
        return snowflake_connection()
    raise ValueError(f"unknown engine {engine!r}")


def empty_warehouse(engine: str, request: pytest.FixtureRequest, tmp_path: Any, monkeypatch: Any) -> Any:
    """A prepared, empty ``customer_warehouse`` on ``engine`` (the connection set as a deployment sets it)."""
    from include.onboarding.warehouse import CustomerWarehouse

    set_connection(monkeypatch, "customer_warehouse", **warehouse_connection(engine, request, tmp_path))
    store = CustomerWarehouse("customer_warehouse")
    store.prepare()
    return store
