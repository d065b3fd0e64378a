"""Customer rows and raw SQL for tests."""

from __future__ import annotations

import re
from typing import Any

from include.demo.customers import EAST_US


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
    if store.dialect == "postgresql":
        sql = re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql.replace("%", "%%"))
    conn = store.hook.get_conn()
    try:
        cursor = conn.cursor()
        cursor.execute(sql, params or {})
        rows = [tuple(r) for r in cursor.fetchall()] if cursor.description else []
        conn.commit()
        return rows
    finally:
        conn.close()
