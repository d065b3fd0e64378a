"""SQLite, the embedded default: one writer at a time, timestamps as ISO-8601 UTC text, booleans 0/1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from include.onboarding.dialects.base import Dialect
from include.onboarding.text import decode_sqlite_text

BUSY_TIMEOUT_MS = 60_000


class SQLite(Dialect):
    name = "sqlite"
    conn_type = "sqlite"
    # No row locks: BEGIN IMMEDIATE serialises writers, so a pick needs no locking clause.
    for_update = ""
    text_timestamps = True
    types: ClassVar = {
        "timestamp": "TEXT",
        "boolean": "INTEGER",
        "now": "(strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))",
        "serial_key": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "text": "TEXT",
        "short_text": "TEXT",
    }

    def prepare_engine(self, engine: Any) -> None:
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # The driver's autocommit mode plus an explicit BEGIN IMMEDIATE (below): the write
            # lock is taken up front, so two claimers serialise instead of failing on a lock
            # upgrade. SQLAlchemy's documented recipe for pysqlite transactions.
            dbapi_connection.isolation_level = None
            dbapi_connection.text_factory = decode_sqlite_text
            dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # WAL lets readers run beside the one writer (a property of the file, set once).
            dbapi_connection.execute("PRAGMA journal_mode = WAL")

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    def bind_timestamp(self, value: datetime) -> Any:
        """ISO-8601 UTC text, the form the claim's ``julianday()`` reads."""
        return value.astimezone(UTC).isoformat(sep=" ")

    def error_details(self, error: BaseException, columns: tuple[str, ...]) -> list[str]:
        # sqlite3 names the constraint and column, and quotes text only when decoding it.
        return [str(error).split(" with text ")[0]]
