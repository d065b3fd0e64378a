"""How the warehouse's SQL files run: rendered, bound, executed, their errors and rows made safe.

A statement is a Jinja-rendered file of ``sql/`` (identifiers and a dialect's keywords only) run
through SQLAlchemy ``text()`` with bound parameters. :class:`Transaction` runs them on one
connection; an engine without ``UPDATE ... RETURNING`` gets the rows an update changed through
:meth:`Transaction.update`. Every error becomes a :class:`WarehouseError` that names the statement
and what the database said was broken, never a value.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from include.onboarding.dialects import Dialect
from include.onboarding.status import CLAIMABLE, EVENT_RECOVERED, EVENT_STOPPED, NEEDS_HUMAN, Status

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).parent / "sql"

# Every status is a bound parameter of the same name in every statement (unused ones are ignored).
STATUS_PARAMS = {status.name.lower(): status.value for status in Status} | {
    "claimable": [s.value for s in CLAIMABLE],
    "needs_human": [s.value for s in NEEDS_HUMAN],
    "stopped": EVENT_STOPPED,
    "recovered": EVENT_RECOVERED,
}

# Parameters holding the pipeline's own text (reasons, messages): where a column cannot store a
# character (MySQL's utf8mb3 and a 4-byte one), it is written as U+FFFD rather than failing the run.
_OWN_TEXT = ("reason", "message", "detail", "error")
_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")


class WarehouseError(Exception):
    """A statement failed. The message names the statement and what the database said was broken
    (error type and code, table, column, constraint), never a row value: a driver's own message may
    quote the failing row (PostgreSQL's "Failing row contains (...)", MySQL's "Duplicate entry
    '...'") and SQLAlchemy's adds the bound parameters.

    ``conflict`` is set when a concurrent transaction won (the transaction may be run again).
    """

    def __init__(self, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict


def warehouse_error(
    name: str, error: BaseException, dialect: Dialect, columns: tuple[str, ...]
) -> WarehouseError:
    driver = getattr(error, "orig", None) or error
    details = [type(driver).__name__, *dialect.error_details(driver, columns)]
    return WarehouseError(
        f"warehouse statement {name} failed: {', '.join(details)}", conflict=dialect.is_conflict(driver)
    )


class Transaction:
    """One connection inside one transaction, running the SQL files of one warehouse.

    ``warehouse`` renders and compiles the files (``render``, ``statement``) and says which
    ``dialect`` runs them, the ``table`` they are about and the ``known_columns`` an error may name.
    """

    def __init__(self, connection: Any, warehouse: Any) -> None:
        self.connection = connection
        self._warehouse = warehouse
        self.dialect = warehouse.dialect
        self.rowcount = 0

    def run(self, name: str, **params: Any) -> list[dict[str, Any]]:
        # An empty list binds as (NULL), which no value is IN; not every engine's SQLAlchemy dialect
        # renders an empty IN (Snowflake's does not). No statement uses NOT IN with a list.
        values = {
            k: [None] if isinstance(v, list | tuple) and not v else v
            for k, v in (STATUS_PARAMS | params).items()
        }
        statement = self._warehouse.statement(name, tuple(sorted(_expanding(values))))
        try:
            result = self.connection.execute(statement, values)
        except Exception as exc:
            # Every error, not only the driver's DB-API ones: SQLAlchemy's own (a StatementError)
            # quote the bound parameters, and an emulator's engine raises its own types.
            driver = getattr(exc, "orig", None) or exc
            if self.dialect.is_unstorable_text(driver) and _has_unstorable(values):
                log.warning(
                    "%s cannot store 4-byte characters (its character set is utf8mb3): the pipeline's "
                    "own text is written with U+FFFD in their place",
                    self._warehouse.table,
                )
                return self.run(name, **_storable(params))
            raise warehouse_error(name, exc, self.dialect, self._warehouse.known_columns) from None
        self.rowcount = result.rowcount
        if not result.returns_rows:
            return []
        columns = list(result.keys())
        return [
            {
                k: v if type(v) in _PLAIN else _plain_value(self.dialect, k, v)
                for k, v in zip(columns, row, strict=True)
            }
            for row in result.fetchall()
        ]

    def update(self, name: str, *, read: str, pick: str | None = None, **params: Any) -> list[dict[str, Any]]:
        """Run the UPDATE ``name`` and return the rows it changed, as ``read`` selects them.

        With ``UPDATE ... RETURNING`` one statement does it all. Without, ``pick`` (for an update
        of several rows) selects their keys first, locked where the engine has row locks, and the
        update is restricted to them (``picked_only`` in the file) while re-checking its own
        conditions; ``read`` then reads back what changed (``:picked``, or the row of ``:key``).
        """
        if self.dialect.returning:
            return self.run(name, **params)
        if pick is not None:
            picked = [r["customer_key"] for r in self.run(pick, **params)]
            if not picked:
                return []
            params["picked"] = picked
        self.run(name, **params)
        if pick is None and self.rowcount == 0:
            return []
        return self.run(read, **params)

    def script(self, name: str, **context: Any) -> None:
        """A DDL file of several statements, no parameters."""
        import sqlparse

        for sql in sqlparse.split(self._warehouse.render(name, **context)):
            sql = sqlparse.format(sql, strip_comments=True).strip().rstrip(";")
            if not sql:
                continue
            try:
                self.connection.exec_driver_sql(sql)
            except Exception as exc:
                if self.dialect.is_permission_denied(getattr(exc, "orig", None) or exc):
                    raise NotAllowed(name) from None
                raise warehouse_error(name, exc, self.dialect, self._warehouse.known_columns) from None


class NotAllowed(Exception):
    """The connection's user may not run a DDL file (no ALTER or INDEX privilege)."""


def _expanding(params: Mapping[str, Any]) -> Iterator[str]:
    return (name for name, value in params.items() if isinstance(value, list | tuple))


# Values every driver returns as the pipeline reads them (most of a row): no conversion to look up.
_PLAIN = frozenset({str, int, float, bool, type(None), datetime})


def _plain_value(dialect: Dialect, column: str, value: Any) -> Any:
    """A value as a user's own column type returns it (uuid, jsonb, BINARY(16)) as plain text."""
    value = dialect.plain_value(column, value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def _has_unstorable(params: Mapping[str, Any]) -> bool:
    return any(isinstance(params.get(p), str) and _BEYOND_BMP.search(params[p]) for p in _OWN_TEXT)


def _storable(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with the pipeline's own text stripped of characters beyond the BMP (as U+FFFD)."""
    return {
        name: _BEYOND_BMP.sub("\ufffd", value) if name in _OWN_TEXT and isinstance(value, str) else value
        for name, value in params.items()
    }


@lru_cache(maxsize=64)
def template(dialect: str, name: str) -> Any:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([SQL_DIR / dialect, SQL_DIR / "common"]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    return environment.get_template(f"{name}.sql")
