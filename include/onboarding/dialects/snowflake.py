"""Snowflake: upper-case folding, database.schema.table names, no indexes and no row locks.

Without row locks a claim cannot skip rows another run is taking. Snowflake serialises DML on one
table instead (an UPDATE waits for the table's lock, then sees what was committed), so the claim
is one conditional UPDATE that re-checks every condition of the rows it was given, followed by
reading back which of them this run now holds (see ``sql/snowflake/claim_pick.sql``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from include.onboarding.dialects.base import Dialect, TableName, mentioned_columns


class Snowflake(Dialect):
    name = "snowflake"
    conn_type = "snowflake"
    max_identifier = 255
    name_parts = 3
    returning = False
    for_update = ""
    types: ClassVar = {
        "timestamp": "TIMESTAMP_NTZ",
        "boolean": "BOOLEAN",
        # SYSDATE() is the UTC wall clock as TIMESTAMP_NTZ, whatever the session's zone.
        "now": "SYSDATE()",
        "serial_key": "INTEGER AUTOINCREMENT ORDER PRIMARY KEY",
        "text": "TEXT",
        "short_text": "TEXT",
    }

    def fold(self, identifier: str) -> str:
        # crm.public.customers names CRM.PUBLIC.CUSTOMERS, the table a user created without quotes.
        return identifier.upper()

    def prepare_engine(self, engine: Any) -> None:
        from sqlalchemy import event

        @event.listens_for(engine, "do_connect")
        def _session_in_utc(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
            # Naive timestamps are UTC; an account's default zone is America/Los_Angeles. Added to
            # the session parameters the connection may set itself.
            cparams["session_parameters"] = {**(cparams.get("session_parameters") or {}), "TIMEZONE": "UTC"}

    def table_columns(self, connection: Any, table: TableName) -> set[str] | None:
        rows = self._information_schema(connection, table, "columns", "column_name", "AND table_name = :name")
        return {r.lower() for r in rows} or None

    def table_names(self, connection: Any, table: TableName) -> set[str]:
        return set(self._information_schema(connection, table, "tables", "table_name", ""))

    def _information_schema(
        self, connection: Any, table: TableName, view: str, column: str, where: str
    ) -> list[str]:
        """``column`` of ``information_schema.<view>`` for ``table``'s database and schema
        (the session's current ones where the name leaves them out)."""
        from sqlalchemy import text

        *database, schema = table.schema.split(".") if table.schema else [None]
        catalog = f"{self.quote(database[0])}." if database else ""
        rows = connection.execute(
            text(
                f"SELECT {column} FROM {catalog}information_schema.{view} "
                f"WHERE table_schema = COALESCE(:schema, CURRENT_SCHEMA()) {where}"
            ),
            {"schema": schema, "name": table.name},
        )
        return [str(r[0]) for r in rows]

    def index_names(self, connection: Any, table: TableName) -> set[str]:
        return set()

    def error_details(self, error: BaseException, columns: tuple[str, ...]) -> list[str]:
        details = [f"error {error.errno:06d}"] if isinstance(getattr(error, "errno", None), int) else []
        details += [f"SQLSTATE {error.sqlstate}"] if getattr(error, "sqlstate", None) else []
        return details + [
            f"column {c}" for c in mentioned_columns(str(getattr(error, "msg", None) or error), columns)
        ]

    def is_conflict(self, error: BaseException) -> bool:
        # 000625: too many statements queued for one table's lock. fakesnow (DuckDB) reports a
        # write-write conflict where Snowflake makes the statement wait; both: run it again.
        return getattr(error, "errno", None) == 625 or type(error).__name__ == "TransactionException"

    def is_permission_denied(self, error: BaseException) -> bool:
        return getattr(error, "errno", None) == 3001  # 003001: insufficient privileges
