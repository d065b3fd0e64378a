"""A customer table as a warehouse team would create it on PostgreSQL: the contract's columns only,
in the types they would pick, without the project's own column (previous_status)."""

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
