"""PostgreSQL: row locks with SKIP LOCKED, a partial index in claim order, lower-case folding."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from include.onboarding.dialects.base import Dialect


class PostgreSQL(Dialect):
    name = "postgresql"
    conn_type = "postgres"
    # PostgreSQL truncates longer identifiers (silently) to this many bytes.
    max_identifier = 63
    types: ClassVar = {
        "timestamp": "TIMESTAMPTZ",
        "boolean": "BOOLEAN",
        "now": "now()",
        "serial_key": "BIGSERIAL PRIMARY KEY",
        "text": "TEXT",
        "short_text": "TEXT",
    }

    def fold(self, identifier: str) -> str:
        # crm.Customer_Onboarding names crm.customer_onboarding, the table a user created without quotes.
        return identifier.lower()

    def prepare_engine(self, engine: Any) -> None:
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # A user's `timestamp without time zone` columns hold UTC.
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET TIME ZONE 'UTC'")
            dbapi_connection.commit()

    def bind_timestamp(self, value: datetime) -> Any:
        return value.astimezone(UTC)

    def error_details(self, error: BaseException, columns: tuple[str, ...]) -> list[str]:
        # psycopg: the structured fields, not the message text (which may quote the failing row).
        details = [f"SQLSTATE {error.sqlstate}"] if getattr(error, "sqlstate", None) else []
        diag = getattr(error, "diag", None)
        if diag is None:
            return details
        return details + [
            f"{label} {value}"
            for label, value in (
                ("table", diag.table_name),
                ("column", diag.column_name),
                ("constraint", diag.constraint_name),
            )
            if value
        ]

    def is_conflict(self, error: BaseException) -> bool:
        return getattr(error, "sqlstate", None) in ("40001", "40P01")  # serialization failure, deadlock

    def is_permission_denied(self, error: BaseException) -> bool:
        return getattr(error, "sqlstate", None) == "42501"
