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
