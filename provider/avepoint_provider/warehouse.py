"""The ``customer_onboarding`` table and its events table, on any common-sql connection.

All SQL lives in ``sql/`` beside this module: ``sql/<dialect>/NAME.sql`` when a
dialect needs its own text, ``sql/common/NAME.sql`` otherwise. Jinja fills in
identifiers and bind placeholders only; every value is a bound parameter.
SQLite (the embedded default) and PostgreSQL are supported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

SQL_DIR = Path(__file__).parent / "sql"
DEFAULT_TABLE = "customer_onboarding"
FINAL_STATUSES = frozenset({"onboarded", "invalid", "rejected", "conflict", "retry", "failed"})
NEEDS_HUMAN = ("invalid", "rejected", "conflict", "failed")
SQLITE_BUSY_TIMEOUT_MS = 60_000

INPUT_COLUMNS = (
    "customer_key",
    "first_name",
    "last_name",
    "organization_name",
    "registration_account",
    "country_code",
    "telephone_number",
    "data_center",
    "password",
    "tags",
    "management_mode",
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def quote_table_name(name: str) -> str:
    """Quote a table name, optionally schema-qualified; refuse anything that is not a plain identifier."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise ValueError(
            f"table name {name!r} must be an identifier, optionally schema-qualified (schema.table)"
        )
    return ".".join(f'"{p}"' for p in parts)


class RunStopped(Exception):
    """The run met a configuration error (its ``stopped`` event's message): send nothing more."""


@dataclass(frozen=True)
class Attempt:
    """A row this run holds, with its attempt counted before anything is sent."""

    row: dict[str, Any]

    @property
    def number(self) -> int:
        return int(self.row["attempts"])

    @property
    def customer_key(self) -> str:
        return str(self.row["customer_key"])


class _Statements:
    """Renders the SQL files for one dialect, paramstyle and pair of tables."""

    def __init__(self, dialect: str, paramstyle: str, table: str, events_table: str) -> None:
        import jinja2

        self.dialect = dialect
        self.paramstyle = paramstyle
        self.table = table
        self.events_table = events_table
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(
                [
                    jinja2.FileSystemLoader(SQL_DIR / dialect),
                    jinja2.FileSystemLoader(SQL_DIR / "common"),
                ]
            ),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )

    def bind(self, name: str) -> str:
        return f"%({name})s" if self.paramstyle == "pyformat" else f":{name}"

    def render(self, name: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The SQL text of ``name`` and its bind parameters (lists expanded one placeholder each)."""
        flat: dict[str, Any] = {}
        for key, value in params.items():
            if isinstance(value, list | tuple):
                flat.update({f"{key}_{i}": item for i, item in enumerate(value)})
            else:
                flat[key] = value

        def bind_each(key: str) -> str:
            values = params[key]
            return ", ".join(self.bind(f"{key}_{i}") for i in range(len(values))) if values else "NULL"

        base = self.table.split(".")[-1].strip('"')
        sql = self._env.get_template(f"{name}.sql").render(
            dialect=self.dialect,
            table=self.table,
            events_table=self.events_table,
            index_name=lambda suffix: f'"{base}_{suffix}_idx"',
            bind=self.bind,
            bind_each=bind_each,
            **params,
        )
        return sql, flat


class _Transaction:
    """A cursor inside one transaction, running named SQL files."""

    def __init__(self, cursor: Any, statements: _Statements) -> None:
        self._cursor = cursor
        self._statements = statements
        self.rowcount = 0

    def run(self, name: str, **params: Any) -> list[dict[str, Any]]:
        sql, values = self._statements.render(name, params)
        self._cursor.execute(sql, values)
        self.rowcount = self._cursor.rowcount
        if self._cursor.description is None:
            return []
        columns = [c[0] for c in self._cursor.description]
        return [
            dict(r) if isinstance(r, Mapping) else dict(zip(columns, r, strict=True))
            for r in self._cursor.fetchall()
        ]

    def script(self, name: str) -> None:
        sql, _ = self._statements.render(name, {})
        for statement in _split_statements(sql):
            self._cursor.execute(statement)


class CustomerWarehouse:
    """Reads and writes the contract's tables through the common-sql connection ``conn_id``.

    :param conn_id: a ``sqlite`` or ``postgres`` Airflow connection.
    :param table: the customer table (``schema.table`` allowed on PostgreSQL); the
        events table is ``<table>_events`` beside it.
    """

    def __init__(self, conn_id: str = "customer_warehouse", table: str = DEFAULT_TABLE) -> None:
        self.conn_id = conn_id
        self.table = quote_table_name(table)
        self.events_table = quote_table_name(f"{table}_events")

    @cached_property
    def hook(self) -> Any:
        return BaseHook.get_connection(self.conn_id).get_hook()

    @cached_property
    def dialect(self) -> str:
        dialect = self.hook.dialect_name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(
                f"connection {self.conn_id!r} is a {dialect!r} database; "
                "the warehouse supports sqlite and postgres connections"
            )
        return dialect

    @cached_property
    def _statements(self) -> _Statements:
        paramstyle = "named" if self.dialect == "sqlite" else "pyformat"
        return _Statements(self.dialect, paramstyle, self.table, self.events_table)

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        """One connection, one transaction: committed on success, rolled back on error."""
        conn = self.hook.get_conn()
        try:
            if self.dialect == "sqlite":
                # Autocommit mode plus an explicit BEGIN IMMEDIATE: the write lock is taken up
                # front, so two claimers serialise instead of failing on a lock upgrade.
                conn.isolation_level = None
                conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
                conn.execute("BEGIN IMMEDIATE")
            cursor = conn.cursor()
            yield _Transaction(cursor, self._statements)
            if self.dialect == "sqlite":
                conn.execute("COMMIT")
            else:
                conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    # -- schema ---------------------------------------------------------------------------------

    def ensure_tables(self) -> None:
        """Create both tables and their indexes if they are missing."""
        with self.transaction() as tx:
            tx.script("create_tables")
        if self.dialect == "sqlite":
            conn = self.hook.get_conn()
            try:
                # WAL lets readers run beside the one writer; it is a property of the file.
                conn.execute("PRAGMA journal_mode = WAL")
            finally:
                conn.close()

    def add_customers(
        self, customers: Iterable[Mapping[str, Any]], *, requested_at: datetime | None = None
    ) -> int:
        """Load customers as ``pending`` (keys already present are left alone); return how many were new.

        Each mapping has the table's input columns; ``tags`` may be a list (stored as JSON text).
        """
        default_time = requested_at or _utcnow()
        added = 0
        with self.transaction() as tx:
            for customer in customers:
                values = {column: customer.get(column) for column in INPUT_COLUMNS}
                if isinstance(values["tags"], list | tuple):
                    values["tags"] = json.dumps(list(values["tags"]))
                values["requested_at"] = self._timestamp(customer.get("requested_at") or default_time)
                tx.run("insert_customer", **values)
                added += max(tx.rowcount, 0)
        return added

    # -- claiming -------------------------------------------------------------------------------

    def claim(
        self,
        *,
        run_id: str,
        interval_end: datetime,
        limit: int,
        claim_timeout: timedelta,
        keys: Sequence[str] = (),
        preview: bool = False,
    ) -> list[str]:
        """Atomically take this run's rows (``in_progress``, ``claimed_by=run_id``); return their keys.

        Selection: ``pending``/``retry`` or a stale ``in_progress`` (claimed longer than
        ``claim_timeout`` ago), ``requested_at < interval_end``, oldest first, at most
        ``limit``. ``preview`` returns the same selection without changing anything.
        """
        now = _utcnow()
        params = {
            "run_id": run_id,
            "interval_end": self._timestamp(interval_end),
            "stale_before": self._timestamp(now - claim_timeout),
            "now": self._timestamp(now),
            "limit": int(limit),
            "keys": list(keys),
            "preview": preview,
            "reason": f"claimed by run {run_id}",
        }
        with self.transaction() as tx:
            rows = tx.run("claim", **params)
        return [str(r["customer_key"]) for r in rows]

    # -- validation support ---------------------------------------------------------------------

    def claimed_rows(self, run_id: str) -> list[dict[str, Any]]:
        """The rows ``run_id`` holds, without passwords."""
        with self.transaction() as tx:
            return tx.run("rows", run_id=run_id, keys=None)

    def rows(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The given rows, without passwords."""
        with self.transaction() as tx:
            return tx.run("rows", run_id=None, keys=list(keys)) if keys else []

    def password_profiles(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per key: whether the password is missing and its lengths; never the password."""
        if not keys:
            return {}
        with self.transaction() as tx:
            rows = tx.run("passwords_profile", keys=list(keys))
        return {str(r.pop("customer_key")): r for r in rows}

    def onboarded_accounts(self, accounts: Iterable[str]) -> set[str]:
        """The lower-cased accounts among ``accounts`` that some row already onboarded."""
        wanted = sorted({a.lower() for a in accounts if a})
        if not wanted:
            return set()
        with self.transaction() as tx:
            return {str(r["account"]) for r in tx.run("onboarded_accounts", accounts=wanted)}

    def mark_invalid(self, run_id: str, reasons: Mapping[str, str], *, try_number: int | None = None) -> None:
        """Set ``invalid`` with its reasons on rows this run holds, with one event each."""
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            for key, reason in reasons.items():
                tx.run("mark_invalid", key=key, run_id=run_id, reason=reason, now=now)
                self._event(tx, key, run_id, try_number, None, "invalid", reason, now=now)

    # -- one customer's attempt -----------------------------------------------------------------

    def begin_attempt(self, key: str, run_id: str) -> Attempt | None:
        """Count an attempt on a row this run holds and return it with its password; None if not held.

        Raises :class:`RunStopped`, counting nothing, when the run met a configuration error.
        """
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            # In the same transaction (one connection per task fewer): a stopped run sends nothing more.
            stop = _stop_message(tx, run_id)
            if stop:
                raise RunStopped(stop)
            rows = tx.run(
                "begin_attempt", key=key, run_id=run_id, now=now, reason=f"being sent by run {run_id}"
            )
        return Attempt(rows[0]) if rows else None

    def row_state(self, key: str) -> dict[str, Any] | None:
        with self.transaction() as tx:
            rows = tx.run("row_state", key=key)
        return rows[0] if rows else None

    def record_outcome(
        self,
        key: str,
        run_id: str,
        *,
        status: str,
        reason: str,
        attempt: int,
        try_number: int | None,
        customer_id: str | None = None,
        api_status: int | None = None,
        http_status: int | None = None,
        event_message: str | None = None,
    ) -> bool:
        """Write the attempt's outcome and its event in one transaction; False if the run lost the row."""
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            tx.run(
                "record_outcome",
                key=key,
                run_id=run_id,
                status=status,
                reason=reason,
                customer_id=customer_id,
                api_status=api_status,
                now=now,
            )
            held = tx.rowcount > 0
            self._event(
                tx,
                key,
                run_id,
                try_number,
                attempt,
                status,
                event_message or reason,
                http_status=http_status,
                api_status=api_status,
                now=now,
            )
        return held

    def release(
        self,
        run_id: str,
        *,
        reason: str,
        key: str | None = None,
        undo_attempt: bool = False,
        try_number: int | None = None,
        stop_message: str | None = None,
    ) -> list[dict[str, Any]]:
        """Return rows this run holds (one, or all) to the status they had before the claim.

        With ``stop_message`` a ``stopped`` event is written first: it tells the run's other
        tasks and its finish step that the run met a configuration error.
        """
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            if stop_message is not None and key is not None:
                self._event(tx, key, run_id, try_number, None, "stopped", stop_message, now=now)
            rows = tx.run(
                "release", run_id=run_id, key=key, reason=reason, undo_attempts=int(undo_attempt), now=now
            )
            for row in rows:
                message = f"returned to {row['status']}: {reason}"
                self._event(
                    tx, row["customer_key"], run_id, try_number, row["attempts"], "released", message, now=now
                )
        return rows

    def stop_reason(self, run_id: str) -> str | None:
        """The configuration error that stopped ``run_id``, if one did."""
        with self.transaction() as tx:
            return _stop_message(tx, run_id)

    def recover_unfinished(self, run_id: str, *, reason: str, max_attempts: int) -> list[dict[str, Any]]:
        """Rows still ``in_progress`` for ``run_id`` go to ``retry`` (``failed`` past ``max_attempts``)."""
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            rows = tx.run(
                "recover_unfinished", run_id=run_id, reason=reason, max_attempts=max_attempts, now=now
            )
            for row in rows:
                message = f"{row['status']}: {reason}"
                self._event(
                    tx, row["customer_key"], run_id, None, row["attempts"], "recovered", message, now=now
                )
        return rows

    # -- reporting ------------------------------------------------------------------------------

    def status_counts(self, run_id: str | None = None) -> dict[str, int]:
        """Rows per status: those ``run_id`` handled, or the whole table."""
        with self.transaction() as tx:
            return {str(r["status"]): int(r["n"]) for r in tx.run("run_counts", run_id=run_id)}

    def needing_human(self, run_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """Rows ``run_id`` left ``invalid``, ``rejected``, ``conflict`` or ``failed``."""
        with self.transaction() as tx:
            return tx.run("needs_human", run_id=run_id, limit=limit)

    # -- helpers --------------------------------------------------------------------------------

    def _event(
        self,
        tx: _Transaction,
        key: str,
        run_id: str,
        try_number: int | None,
        attempt: int | None,
        outcome: str,
        message: str,
        *,
        now: Any,
        http_status: int | None = None,
        api_status: int | None = None,
    ) -> None:
        tx.run(
            "insert_event",
            key=key,
            run_id=run_id,
            try_number=try_number,
            attempt=attempt,
            now=now,
            outcome=outcome,
            http_status=http_status,
            api_status=api_status,
            message=message[:2000],
        )

    def _timestamp(self, value: datetime) -> Any:
        """Timestamps bind as aware datetimes on PostgreSQL and as ISO-8601 UTC text on SQLite."""
        value = value.astimezone(UTC)
        return value.isoformat(sep=" ") if self.dialect == "sqlite" else value


def _stop_message(tx: _Transaction, run_id: str) -> str | None:
    """The message of ``run_id``'s ``stopped`` event (a configuration error), if it has one."""
    rows = tx.run("run_stop_reason", run_id=run_id)
    return rows[0]["message"] if rows else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=32)
def _split_statements(sql: str) -> tuple[str, ...]:
    """Split a DDL script on statement-ending semicolons (the scripts keep one statement per ';')."""
    statements, current = [], []
    for line in sql.splitlines():
        if line.strip().startswith("--"):
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append("\n".join(current).strip().rstrip(";"))
            current = []
    if "".join(current).strip():
        statements.append("\n".join(current).strip())
    return tuple(s for s in statements if s)
