"""Customer rows and raw SQL for tests."""

from __future__ import annotations

from typing import Any

from tools.demo.customers import EAST_US


def make_customer(key: str, *, domain: str = "customers.example", **changes: Any) -> dict[str, Any]:
    """A valid customer row (account ``<key>@<domain>``, a password unique to the key)."""
    return {
        "customer_key": key,
        "first_name": "Ann",
        "last_name": "Lee",
        "organization_name": f"Org {key}",
        "registration_account": f"{key.lower()}@{domain}",
        "country_code": "US",
        "data_center": EAST_US,
        "password": f"Secret-{key}-Pw1!",
    } | changes


def run_sql(store: Any, sql: str, params: dict | None = None) -> list[tuple]:
    """Run raw SQL with ``:name`` binds on a CustomerWarehouse's database, committed."""
    from sqlalchemy import text

    with store.engine.begin() as connection:
        result = connection.execute(text(sql), params or {})
        return [tuple(r) for r in result] if result.returns_rows else []


def alert_rows(store: Any, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """The alert rows of one run in ``<table>_alerts``: channel, outcome, sent_at, attempts, last_error."""
    from sqlalchemy import text

    alerts = store.table_name.with_suffix("_alerts").quoted
    with store.engine.begin() as connection:
        result = connection.execute(
            text(
                f"SELECT channel, outcome, sent_at, attempts, last_error FROM {alerts} "
                "WHERE dag_id = :dag_id AND run_id = :run_id ORDER BY channel"
            ),
            {"dag_id": dag_id, "run_id": run_id},
        )
        return [dict(r) for r in result.mappings()]
