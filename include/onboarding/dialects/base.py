"""What every engine answers the same way unless its own module says otherwise.

:class:`Dialect` is the seam between the warehouse's lifecycle (``warehouse.py``, written once) and
an engine: how it folds and quotes identifiers, its column types, how it claims, whether an UPDATE
can return rows, how a connection is set up, how timestamps bind, and what its errors mean.
:class:`TableName` is a configured table name resolved as that engine resolves it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

# One part of a configured table name: an identifier as typed (folded as the engine folds it), or
# a quoted one (taken as is): printable, without quotes, dots or backslashes.
_PART = re.compile(r'(?P<plain>[A-Za-z_][A-Za-z0-9_$]*)|"(?P<double>[^"`.\\]+)"|`(?P<back>[^"`.\\]+)`')


class Dialect:
    """An engine as the warehouse sees it. Subclasses set the class attributes and override hooks."""

    #: SQLAlchemy's name for the engine; also the folder ``sql/<name>/`` of its own statements.
    name: ClassVar[str]
    #: The Airflow connection type a user picks for it.
    conn_type: ClassVar[str]
    quote_char: ClassVar[str] = '"'
    #: Longest identifier in bytes (None: no limit worth checking).
    max_identifier: ClassVar[int | None] = None
    #: How many parts a table name may have: schema.table, or database.schema.table.
    name_parts: ClassVar[int] = 2
    #: ``UPDATE ... RETURNING``; without it the lifecycle picks, updates and reads back.
    returning: ClassVar[bool] = True
    #: The locking clause of a pick (rows picked for an update stay with this transaction).
    for_update: ClassVar[str] = "FOR UPDATE"
    #: ``CREATE INDEX IF NOT EXISTS``; without it the lifecycle passes the existing index names.
    index_if_not_exists: ClassVar[bool] = True
    #: Timestamps kept as text (SQLite): other ISO-8601 spellings are rewritten before a claim.
    text_timestamps: ClassVar[bool] = False
    #: Column types of the DDL: timestamp, boolean, now, serial_key, text (for CAST).
    types: ClassVar[Mapping[str, str]]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def fold(self, identifier: str) -> str:
        """An unquoted identifier as the engine stores it (PostgreSQL lower case, Snowflake upper)."""
        return identifier

    def quote(self, identifier: str) -> str:
        return f"{self.quote_char}{identifier}{self.quote_char}"

    # -- connections ------------------------------------------------------------------------------

    def engine_kwargs(self) -> dict[str, Any]:
        """Arguments for ``create_engine`` besides the connection's URL."""
        return {}

    def prepare_engine(self, engine: Any) -> None:
        """Register the engine's connection set-up (session time zone, locking mode) on ``engine``."""

    def bind_timestamp(self, value: datetime) -> Any:
        """A timestamp as bound to a statement. Default: naive UTC, the contract's naive columns' zone."""
        return value.astimezone(UTC).replace(tzinfo=None)

    def plain_value(self, column: str, value: Any) -> Any:
        """A value as the pipeline reads it, whatever column type the user picked."""
        return value

    def table_columns(self, connection: Any, table: TableName) -> set[str] | None:
        """The lower-cased column names of ``table``; None if it does not exist."""
        from sqlalchemy import inspect

        inspector = inspect(connection)
        if not inspector.has_table(table.name, schema=table.schema):
            return None
        return {c["name"].lower() for c in inspector.get_columns(table.name, schema=table.schema)}

    def table_names(self, connection: Any, table: TableName) -> set[str]:
        """The names of the tables in ``table``'s schema, as stored."""
        from sqlalchemy import inspect

        return set(inspect(connection).get_table_names(schema=table.schema))

    def index_names(self, connection: Any, table: TableName) -> set[str]:
        from sqlalchemy import inspect

        return {str(i["name"]) for i in inspect(connection).get_indexes(table.name, schema=table.schema)}

    def unindexable_columns(self, connection: Any, table: TableName) -> set[str]:
        """Columns an index can hold only a prefix of (MySQL's TEXT)."""
        return set()

    # -- errors -----------------------------------------------------------------------------------

    def error_details(self, error: BaseException, columns: tuple[str, ...]) -> list[str]:
        """What the driver says was broken, never a value: codes and the names of objects.

        ``columns`` are the names the tables may have, for engines whose messages name a column
        only in free text (see :func:`mentioned_columns`).
        """
        return []

    def is_conflict(self, error: BaseException) -> bool:
        """A concurrent transaction won (deadlock, write conflict): the whole transaction may be retried."""
        return False

    def is_permission_denied(self, error: BaseException) -> bool:
        return False

    def is_unstorable_text(self, error: BaseException) -> bool:
        """A text has characters its column cannot store (MySQL's utf8mb3)."""
        return False


class AnyEngine(Dialect):
    """No engine yet: the syntax of a name as the most permissive engine reads it (three parts, as typed)."""

    name = "any"
    conn_type = "any"
    name_parts = 3


@dataclass(frozen=True)
class TableName:
    """A configured table name resolved as the database resolves it; ``schema`` may be ``db.schema``."""

    schema: str | None
    name: str
    dialect: Dialect

    @classmethod
    def parse(cls, configured: str, dialect: Dialect | str) -> TableName:
        """``[database.][schema.]table``: unquoted parts fold as the engine folds them, quoted ones stay.

        ``dialect`` may be a dialect's name; ``"any"`` checks only the syntax every engine accepts
        at most (settings are read before the warehouse's engine is known; its own limits are
        checked when it is).
        """
        dialect = _resolve(dialect)
        parts = _parts(configured, dialect, dialect.name_parts, "table name")
        return cls(".".join(parts[:-1]) or None, parts[-1], dialect)

    @classmethod
    def schema_only(cls, configured: str, dialect: Dialect | str) -> TableName:
        """A schema (``[database.]schema``) to create tables in, as a name without a table."""
        dialect = _resolve(dialect)
        return cls(".".join(_parts(configured, dialect, dialect.name_parts - 1, "schema name")), "", dialect)

    def beside(self, suffix: str, schema: TableName | None = None) -> TableName:
        """The table ``<name><suffix>`` in this table's schema, or in ``schema``'s if given.

        The suffix is the project's own identifier, folded as typed: ``CUSTOMERS_EVENTS`` on Snowflake.
        """
        return TableName((schema or self).schema, f"{self.name}{self.dialect.fold(suffix)}", self.dialect)

    def with_suffix(self, suffix: str) -> TableName:
        """The table ``<name><suffix>`` beside this one (:meth:`beside` without another schema)."""
        return self.beside(suffix)

    @property
    def quoted(self) -> str:
        parts = [*(self.schema.split(".") if self.schema else []), self.name]
        return ".".join(self.dialect.quote(p) for p in parts)

    def index_name(self, suffix: str) -> str:
        """A unique index name within the engine's identifier limit, however long the table name is."""
        full = f"{self.name}_{suffix}_idx"
        limit = self.dialect.max_identifier
        if not limit or len(full.encode()) <= limit:
            return self.dialect.quote(full)
        digest = hashlib.sha1(f"{self.schema}.{self.name}".encode()).hexdigest()[:8]
        keep = limit - len(f"_{digest}_{suffix}_idx")
        return self.dialect.quote(
            f"{self.name.encode()[:keep].decode(errors='ignore')}_{digest}_{suffix}_idx"
        )


# Every dialect by name (filled by the package, include/onboarding/dialects/__init__.py).
DIALECTS: dict[str, Dialect] = {}


def _resolve(dialect: Dialect | str) -> Dialect:
    if isinstance(dialect, Dialect):
        return dialect
    return AnyEngine() if dialect == "any" else DIALECTS[dialect]


def _parts(configured: str, dialect: Dialect, most: int, what: str) -> list[str]:
    """The dot-separated parts of ``configured``, folded or as quoted; at most ``most`` of them."""
    parts: list[str] = []
    position = 0
    while match := _PART.match(configured, position):
        plain = match["plain"]
        parts.append(dialect.fold(plain) if plain else match["double"] or match["back"])
        position = match.end()
        if configured[position : position + 1] != ".":
            break
        position += 1
    if position != len(configured) or not 1 <= len(parts) <= most or not all(p.isprintable() for p in parts):
        qualified = ("[database.]schema." if most == 3 else "schema.") if what == "table name" else ""
        raise ValueError(
            f"{what} {configured!r} must be an identifier"
            + (f", optionally qualified ({qualified}table)" if qualified else f" of at most {most} part(s)")
            + "; quote a part to keep its case"
        )
    limit = dialect.max_identifier
    too_long = [p for p in parts if limit and len(f"{p}_events".encode()) > limit]
    if too_long:
        raise ValueError(
            f"{what} {too_long[0]!r} is too long: with the events table's suffix it exceeds "
            f"{dialect.name}'s {limit} bytes and would be truncated or refused"
        )
    return parts


def mentioned_columns(message: str, columns: tuple[str, ...]) -> list[str]:
    """The names among ``columns`` that a driver's message mentions as words.

    For engines whose errors name a column only inside a message that may also quote a value:
    what comes out is a column name of the contract, never text of the message.
    """
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", message)}
    return [c for c in columns if c in words]
