"""MySQL >= 8.0 and MariaDB >= 10.6: SKIP LOCKED, no UPDATE ... RETURNING, backticks, utf8mb4.

Table names keep their case (the server's ``lower_case_table_names`` decides how it compares
them); column names never depend on case. Sessions run in UTC (``DATETIME`` columns hold UTC)
and at READ COMMITTED, so a claim locks only the rows it takes.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, ClassVar

from include.onboarding.dialects.base import Dialect, TableName, mentioned_columns

# What a MySQL error code means, in the words a person needs; the server's message itself may
# quote the failing value (1062 "Duplicate entry '<key>'", 1366 "Incorrect string value: '<bytes>'").
REASONS = {
    1048: "a required column is NULL",
    1054: "a column is missing",
    1062: "a row with this key exists",
    1142: "the connection's user lacks a privilege on the table",
    1146: "the table does not exist",
    1292: "a value is not a valid date and time or number",
    1366: (
        "a text has characters the column's character set cannot store (a 4-byte character such as "
        "an emoji in a utf8mb3 column: ALTER TABLE ... CONVERT TO CHARACTER SET utf8mb4)"
    ),
    1406: "a value is longer than its column allows",
}
UNSTORABLE_TEXT = 1366
_KEY = re.compile(r"for key '([A-Za-z0-9_$.]+)'")


def error_code(error: BaseException) -> int | None:
    code = error.args[0] if getattr(error, "args", None) else None
    return code if isinstance(code, int) else None


class MySQL(Dialect):
    name = "mysql"
    conn_type = "mysql"
    quote_char = "`"
    max_identifier = 64
    returning = False
    index_if_not_exists = False  # MariaDB has it, MySQL 8 does not
    types: ClassVar = {
        "timestamp": "DATETIME(6)",
        "boolean": "BOOLEAN",
        "now": "CURRENT_TIMESTAMP(6)",
        "serial_key": "BIGINT AUTO_INCREMENT PRIMARY KEY",
        "text": "CHAR",
        "short_text": "VARCHAR(255)",
    }

    def engine_kwargs(self) -> dict[str, Any]:
        return {"isolation_level": "READ COMMITTED", "connect_args": {"charset": "utf8mb4"}}

    def prepare_engine(self, engine: Any) -> None:
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # A user's DATETIME columns hold UTC, and TIMESTAMP ones convert through the session's zone.
            cursor = dbapi_connection.cursor()
            cursor.execute("SET time_zone = '+00:00'")
            cursor.close()

    def unindexable_columns(self, connection: Any, table: TableName) -> set[str]:
        from sqlalchemy import inspect

        columns = inspect(connection).get_columns(table.name, schema=table.schema)
        return {
            c["name"].lower()
            for c in columns
            if re.search(r"TEXT|BLOB|JSON", type(c["type"]).__name__.upper())
        }

    def plain_value(self, column: str, value: Any) -> Any:
        # A GUID kept as BINARY(16) reads as its 16 bytes.
        if column == "data_center" and isinstance(value, bytes) and len(value) == 16:
            return str(uuid.UUID(bytes=value))
        return value

    def error_details(self, error: BaseException, columns: tuple[str, ...]) -> list[str]:
        code = error_code(error)
        if code is None:
            return []
        message = str(error.args[1]) if len(error.args) > 1 else ""
        details = [f"error {code}"]
        if code in REASONS:
            details.append(REASONS[code])
        details += [f"column {c}" for c in mentioned_columns(message, columns)]
        details += [f"key {k}" for k in _KEY.findall(message)]
        return details

    def is_conflict(self, error: BaseException) -> bool:
        return error_code(error) in (1205, 1213)  # lock wait timeout, deadlock

    def is_permission_denied(self, error: BaseException) -> bool:
        return error_code(error) in (1142, 1143, 1044)

    def is_unstorable_text(self, error: BaseException) -> bool:
        return error_code(error) == UNSTORABLE_TEXT
