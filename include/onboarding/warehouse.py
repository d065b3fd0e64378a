"""The ``customer_onboarding`` table and its events table, on any common-sql connection.

SQL lives in ``sql/`` beside this module, one file per method (``sql/<dialect>/NAME.sql`` when a
dialect needs its own text, ``sql/common/NAME.sql`` otherwise). Statements run through
SQLAlchemy ``text()`` with bound (and, for lists, expanding) parameters; Jinja fills in
identifiers only (and, in DDL, literals of :class:`~include.onboarding.status.Status`).
SQLite (the embedded default) and PostgreSQL are supported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from avepoint_provider.customer import Customer
from include.onboarding.status import (
    CLAIMABLE,
    EVENT_RECOVERED,
    EVENT_RELEASED,
    EVENT_STOPPED,
    NEEDS_HUMAN,
    Status,
)
from include.onboarding.text import (
    Undecodable,
    decode_sqlite_text,
    display_text,
    key_problem,
    undecodable_columns,
    undecodable_reason,
)

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).parent / "sql"
DEFAULT_TABLE = "customer_onboarding"
SQLITE_BUSY_TIMEOUT_MS = 60_000
# PostgreSQL truncates longer identifiers (silently) to this many bytes.
PG_MAX_IDENTIFIER = 63

INPUT_COLUMNS = ("customer_key", *Customer.field_names())
# The contract's columns: a user's own table needs exactly these.
CONTRACT_COLUMNS = (
    *INPUT_COLUMNS,
    "status",
    "status_reason",
    "avepoint_customer_id",
    "api_status",
    "attempts",
    "requested_at",
    "updated_at",
    "claimed_by",
    "claimed_at",
)
# Columns the project adds to a table itself (see add_project_columns.sql).
PROJECT_COLUMNS = ("previous_status",)

# Column types of the DDL per dialect. SQLite keeps timestamps as ISO-8601 UTC text, booleans as 0/1.
COLUMN_TYPES = {
    "sqlite": {
        "timestamp": "TEXT",
        "boolean": "INTEGER",
        "now": "(strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))",
        "serial_key": "INTEGER PRIMARY KEY AUTOINCREMENT",
    },
    "postgresql": {
        "timestamp": "TIMESTAMPTZ",
        "boolean": "BOOLEAN",
        "now": "now()",
        "serial_key": "BIGSERIAL PRIMARY KEY",
    },
}

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")  # fullmatch: "$" would allow a trailing newline
# Every status is a bound parameter of the same name in every statement (unused ones are ignored).
_STATUS_PARAMS = {status.name.lower(): status.value for status in Status} | {
    "claimable": [s.value for s in CLAIMABLE],
    "needs_human": [s.value for s in NEEDS_HUMAN],
    "stopped": EVENT_STOPPED,
    "recovered": EVENT_RECOVERED,
}


class TableNotReady(Exception):
    """The configured table lacks contract columns; the message names them and the DDL to run."""


class WarehouseError(Exception):
    """A statement failed. The message names the statement and what the database said was broken
    (error type, SQLSTATE, table, column, constraint), never a row value: a driver's own message may
    quote the failing row (PostgreSQL's "Failing row contains (...)", password included) and
    SQLAlchemy's adds the bound parameters."""


def _warehouse_error(name: str, error: Exception) -> WarehouseError:
    driver = getattr(error, "orig", None) or error
    details = [type(driver).__name__]
    diag = getattr(driver, "diag", None)
    if diag is not None:  # psycopg: the structured fields, not the message text
        details += [f"SQLSTATE {driver.sqlstate}"] if getattr(driver, "sqlstate", None) else []
        details += [
            f"{label} {value}"
            for label, value in (
                ("table", diag.table_name),
                ("column", diag.column_name),
                ("constraint", diag.constraint_name),
            )
            if value
        ]
    else:  # sqlite3 names the constraint and column, and quotes text only when decoding it
        details.append(str(driver).split(" with text ")[0])
    return WarehouseError(f"warehouse statement {name} failed: {', '.join(details)}")


@dataclass(frozen=True)
class TableName:
    """A configured table name resolved as the database resolves an unquoted identifier."""

    schema: str | None
    name: str

    @classmethod
    def parse(cls, configured: str, dialect: str) -> TableName:
        parts = configured.split(".")
        if not 1 <= len(parts) <= 2 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
            raise ValueError(
                f"table name {configured!r} must be an identifier, optionally schema-qualified (schema.table)"
            )
        if dialect == "postgresql":
            # PostgreSQL folds an unquoted identifier to lower case: crm.Customer_Onboarding
            # names crm.customer_onboarding, the table a user created without quotes.
            parts = [p.lower() for p in parts]
            too_long = [p for p in parts if len(f"{p}_events".encode()) > PG_MAX_IDENTIFIER]
            if too_long:
                raise ValueError(
                    f"table name {too_long[0]!r} is too long: with the events table's suffix it "
                    f"exceeds PostgreSQL's {PG_MAX_IDENTIFIER} bytes and would be truncated"
                )
        return cls(*parts) if len(parts) == 2 else cls(None, parts[0])

    def with_suffix(self, suffix: str) -> TableName:
        return TableName(self.schema, f"{self.name}{suffix}")

    @property
    def quoted(self) -> str:
        return ".".join(f'"{p}"' for p in (self.schema, self.name) if p)

    def index_name(self, suffix: str) -> str:
        """A unique index name within PostgreSQL's 63 bytes, however long the table name is."""
        full = f"{self.name}_{suffix}_idx"
        if len(full.encode()) <= PG_MAX_IDENTIFIER:
            return f'"{full}"'
        digest = hashlib.sha1(f"{self.schema}.{self.name}".encode()).hexdigest()[:8]
        keep = PG_MAX_IDENTIFIER - len(f"_{digest}_{suffix}_idx")
        return f'"{self.name.encode()[:keep].decode(errors="ignore")}_{digest}_{suffix}_idx"'


class _Transaction:
    """One connection inside one transaction, running the SQL files of one warehouse."""

    def __init__(self, connection: Any, warehouse: CustomerWarehouse) -> None:
        self.connection = connection
        self._warehouse = warehouse
        self.rowcount = 0

    def run(self, name: str, **params: Any) -> list[dict[str, Any]]:
        from sqlalchemy.exc import DBAPIError

        values = _STATUS_PARAMS | params
        statement = self._warehouse.statement(name, tuple(sorted(_expanding(values))))
        try:
            result = self.connection.execute(statement, values)
        except DBAPIError as exc:
            raise _warehouse_error(name, exc) from None
        self.rowcount = result.rowcount
        return [_plain_row(row) for row in result.mappings()] if result.returns_rows else []

    def script(self, name: str) -> None:
        """A DDL file of several statements, no parameters."""
        import sqlparse

        for sql in sqlparse.split(self._warehouse.render(name)):
            sql = sqlparse.format(sql, strip_comments=True).strip().rstrip(";")
            if sql:
                self.connection.exec_driver_sql(sql)


class CustomerWarehouse:
    """Reads and writes the contract's tables through the common-sql connection ``conn_id``.

    :param conn_id: a ``sqlite`` or ``postgres`` Airflow connection.
    :param table: the customer table (``schema.table`` allowed on PostgreSQL); the
        events table is ``<table>_events`` beside it.
    """

    def __init__(self, conn_id: str = "customer_warehouse", table: str = DEFAULT_TABLE) -> None:
        self.conn_id = conn_id
        self.configured_table = table
        self._statements: dict[tuple[str, tuple[str, ...]], Any] = {}

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
    def table_name(self) -> TableName:
        return TableName.parse(self.configured_table, self.dialect)

    @property
    def table(self) -> str:
        return self.table_name.quoted

    @property
    def events_table(self) -> str:
        return self.table_name.with_suffix("_events").quoted

    @cached_property
    def engine(self) -> Any:
        from sqlalchemy import event

        engine = self.hook.get_sqlalchemy_engine()
        if self.dialect == "sqlite":

            @event.listens_for(engine, "connect")
            def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
                # The driver's autocommit mode plus an explicit BEGIN IMMEDIATE (below): the write
                # lock is taken up front, so two claimers serialise instead of failing on a lock
                # upgrade. SQLAlchemy's documented recipe for pysqlite transactions.
                dbapi_connection.isolation_level = None
                dbapi_connection.text_factory = decode_sqlite_text
                dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
                # WAL lets readers run beside the one writer (a property of the file, set once).
                dbapi_connection.execute("PRAGMA journal_mode = WAL")

            @event.listens_for(engine, "begin")
            def _sqlite_begin(connection: Any) -> None:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        else:

            @event.listens_for(engine, "connect")
            def _postgres_connect(dbapi_connection: Any, _record: Any) -> None:
                # A user's `timestamp without time zone` columns hold UTC.
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SET TIME ZONE 'UTC'")
                dbapi_connection.commit()

        return engine

    def render(self, name: str) -> str:
        return _template(self.dialect, name).render(
            table=self.table,
            events_table=self.events_table,
            index_name=self.table_name.index_name,
            types=COLUMN_TYPES[self.dialect],
            pending=Status.PENDING.value,
            claimable=", ".join(f"'{s.value}'" for s in CLAIMABLE),
            **self.more_tables(),
        )

    def more_tables(self) -> dict[str, str]:
        """Quoted names of tables a subclass keeps beside these two, by template variable (none here)."""
        return {}

    def statement(self, name: str, expanding: tuple[str, ...]) -> Any:
        """The SQL file ``name`` as a ``text()`` clause, ``expanding`` naming its list parameters."""
        key = (name, expanding)
        if key not in self._statements:
            from sqlalchemy import String, bindparam, text

            statement = text(self.render(name))
            used = set(statement._bindparams)  # the :names this file uses
            # Lists are of text (keys, accounts, statuses); typed, an empty one compares as text too.
            self._statements[key] = statement.bindparams(
                *(bindparam(n, expanding=True, type_=String) for n in expanding if n in used)
            )
        return self._statements[key]

    @contextmanager
    def transaction(self, *, rollback: bool = False) -> Iterator[_Transaction]:
        """One connection, one transaction: committed on success (unless ``rollback``), rolled back on error."""
        with self.engine.connect() as connection, connection.begin() as transaction:
            yield _Transaction(connection, self)
            if rollback:
                transaction.rollback()

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Make the table ready before a run claims anything; create both tables when missing.

        An existing table (a user's own) must have the contract's columns, else
        :class:`TableNotReady` names the missing ones and the DDL to run. The project's own
        columns and the indexes are added to it here, once, and logged.
        """
        from sqlalchemy import inspect

        table = self.table_name
        with self.transaction() as tx:
            inspector = inspect(tx.connection)
            if not inspector.has_table(table.name, schema=table.schema):
                tx.script("create_table")
            else:
                present = {c["name"].lower() for c in inspector.get_columns(table.name, schema=table.schema)}
                missing = [c for c in CONTRACT_COLUMNS if c not in present]
                if missing:
                    raise TableNotReady(self._missing_columns_message(missing))
                if any(c not in present for c in PROJECT_COLUMNS):
                    log.warning(
                        "Adding the project's column previous_status to %s (the status a claimed row "
                        "returns to if its run stops)",
                        self.table,
                    )
                    tx.script("add_project_columns")
            # Table before events table, as release does: never the other order.
            tx.script("create_indexes")
            tx.script("create_events_table")

    def _missing_columns_message(self, missing: Sequence[str]) -> str:
        types = {c: "TEXT" for c in missing} | {
            "management_mode": "BOOLEAN",
            "api_status": "INTEGER",
            "attempts": "INTEGER NOT NULL DEFAULT 0",
            "requested_at": "TIMESTAMPTZ NOT NULL DEFAULT now()",
            "updated_at": "TIMESTAMPTZ",
            "claimed_at": "TIMESTAMPTZ",
            "status": f"TEXT NOT NULL DEFAULT '{Status.PENDING}'",
        }
        ddl = "; ".join(f"ALTER TABLE {self.table} ADD COLUMN {c} {types[c]}" for c in missing)
        return (
            f"table {self.table} lacks the contract's column(s) {', '.join(missing)}; "
            f"nothing was claimed. Add them, e.g.: {ddl}"
        )

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
                tx.run("add_customers", **values)
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
    ) -> list[str]:
        """Atomically take this run's rows (``in_progress``, ``claimed_by=run_id``); return their keys.

        Selection: ``pending``/``retry`` or a stale ``in_progress`` (no heartbeat for longer
        than ``claim_timeout``), ``requested_at < interval_end``, oldest first, at most
        ``limit``. A taken row whose key cannot be passed on (see :func:`key_problem`) is set
        ``invalid`` in the same transaction and left out of the returned keys.
        """
        params = self._claim_params(run_id, interval_end, limit, claim_timeout, keys)
        with self.transaction() as tx:
            self._settle_unreadable_requested_at(tx, run_id)
            rows = tx.run("claim", **params)
            usable: list[str] = []
            for row in rows:
                problem = key_problem(row["customer_key"])
                if problem is None:
                    usable.append(str(row["customer_key"]))
                    continue
                # A key that is not UTF-8 is addressed by its stored bytes (SQLite's claim returns them).
                key = row["raw_key"] if isinstance(row["customer_key"], Undecodable) else row["customer_key"]
                now = params["now"]
                tx.run("mark_invalid", key=key, run_id=run_id, reason=problem, undo_attempts=0, now=now)
                self._event(tx, key, run_id, None, None, Status.INVALID, problem, now=now)
        _log_unusable_keys(len(rows) - len(usable), "set invalid")
        return usable

    def preview_claim(
        self,
        *,
        run_id: str,
        interval_end: datetime,
        limit: int,
        claim_timeout: timedelta,
        keys: Sequence[str] = (),
    ) -> list[str]:
        """The keys :meth:`claim` would take now, changing nothing (a dry run).

        The very same statement, rolled back: a preview cannot drift from the claim.
        """
        with self.transaction(rollback=True) as tx:
            rows = tx.run("claim", **self._claim_params(run_id, interval_end, limit, claim_timeout, keys))
        usable = [str(r["customer_key"]) for r in rows if key_problem(r["customer_key"]) is None]
        _log_unusable_keys(len(rows) - len(usable), "a real run sets them invalid")
        return usable

    def _claim_params(
        self, run_id: str, interval_end: datetime, limit: int, claim_timeout: timedelta, keys: Sequence[str]
    ) -> dict[str, Any]:
        now = _utcnow()
        return {
            "run_id": run_id,
            "interval_end": self._timestamp(interval_end),
            "stale_before": self._timestamp(now - claim_timeout),
            "now": self._timestamp(now),
            "limit": int(limit),
            "all_keys": not keys,
            "keys": [str(k) for k in keys],
            "reason": _claimed_reason(run_id),
        }

    def _settle_unreadable_requested_at(self, tx: _Transaction, run_id: str) -> None:
        """SQLite: rewrite other ISO-8601 spellings of ``requested_at``; an unreadable one is invalid.

        SQLite's date functions read neither ``+0000`` nor `` UTC``, so such a row would never
        be claimed and would wait forever without a reason. PostgreSQL types the column.
        """
        if self.dialect != "sqlite":
            return
        now = self._timestamp(_utcnow())
        for row in tx.run("unreadable_requested_at"):
            # A key that is not UTF-8 is addressed by its stored bytes, as the claim does.
            key = row["raw_key"] if isinstance(row["customer_key"], Undecodable) else row["customer_key"]
            when = _parse_timestamp(row["requested_at"])
            if when is not None:
                tx.run("set_requested_at", key=key, requested_at=self._timestamp(when))
                continue
            reason = (
                "requested_at is not a date and time this pipeline can read "
                "(use ISO-8601, e.g. 2026-11-27 08:00:00+00:00)"
            )
            tx.run("mark_unclaimed_invalid", key=key, reason=reason, now=now)
            self._event(tx, key, run_id, None, None, Status.INVALID, reason, now=now)

    # -- validation support ---------------------------------------------------------------------

    def claimed_rows(self, run_id: str) -> list[dict[str, Any]]:
        """The rows ``run_id`` holds, without passwords."""
        with self.transaction() as tx:
            return tx.run("claimed_rows", run_id=run_id)

    def rows(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The given rows, without passwords."""
        if not keys:
            return []
        with self.transaction() as tx:
            return tx.run("rows", keys=[str(k) for k in keys])

    def password_profiles(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per key: whether the password is missing and its lengths; never the password."""
        if not keys:
            return {}
        with self.transaction() as tx:
            rows = tx.run("password_profiles", keys=[str(k) for k in keys])
        return {str(r.pop("customer_key")): r for r in rows}

    def onboarded_accounts(self, accounts: Iterable[str]) -> set[str]:
        """The accounts among ``accounts`` that some row already onboarded, as ``account_key`` spells them.

        Accounts are the same when the provider's ``account_key`` says so, the identity every
        comparison uses. SQL only narrows the search (PostgreSQL's ``lower()`` makes the Kelvin
        sign a ``k``); each row it finds is confirmed with ``account_key``. The search is wide
        enough for every account validation accepts (ASCII, no edge blanks).
        """
        from avepoint_provider.hooks.avepoint import account_key

        wanted = {account_key(a) for a in accounts if a} - {""}
        if not wanted:
            return set()
        candidates = sorted(wanted | {w.lower() for w in wanted})
        with self.transaction() as tx:
            rows = tx.run("onboarded_accounts", accounts=candidates)
        return {key for r in rows if (key := account_key(str(r["account"]))) in wanted}

    def mark_invalid(self, run_id: str, reasons: Mapping[str, str], *, try_number: int | None = None) -> None:
        """Set ``invalid`` with its reasons on rows this run holds, with one event each."""
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            for key, reason in reasons.items():
                tx.run("mark_invalid", key=key, run_id=run_id, reason=reason, undo_attempts=0, now=now)
                self._event(tx, key, run_id, try_number, None, Status.INVALID, reason, now=now)

    # -- one customer's attempt -----------------------------------------------------------------

    def begin_attempt(self, key: str, run_id: str) -> dict[str, Any] | None:
        """Count an attempt on a row this run holds and return the row with its password.

        None if the run does not hold the row. The row's ``claimed_at`` is refreshed: the
        claim's heartbeat. Returns None, and sets the row ``invalid`` with the attempt taken
        back, when a column's text is not valid UTF-8 (the reason names the column, not the value).
        Raises :class:`RunStopped` (from the provider), counting nothing, when the run met a
        configuration error.
        """
        from avepoint_provider.store import RunStopped

        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            # In the same transaction (one connection per task fewer): a stopped run sends nothing more.
            stop = _stop_message(tx, run_id)
            if stop:
                raise RunStopped(stop)
            rows = tx.run(
                "begin_attempt", key=key, run_id=run_id, now=now, reason=f"being sent by run {run_id}"
            )
            if not rows:
                return None
            row = rows[0]
            bad = undecodable_columns(row)
            if bad:
                self._mark_unsendable(tx, key, run_id, undecodable_reason(bad), now=now)
                return None
        return row

    def mark_unsendable(self, key: str, run_id: str, reason: str) -> None:
        """A held row whose data cannot form a request: ``invalid``, its counted attempt taken back."""
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            self._mark_unsendable(tx, key, run_id, reason, now=now)

    def _mark_unsendable(self, tx: _Transaction, key: str, run_id: str, reason: str, *, now: Any) -> None:
        tx.run("mark_invalid", key=key, run_id=run_id, reason=reason, undo_attempts=1, now=now)
        self._event(tx, key, run_id, None, None, Status.INVALID, reason, now=now)

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
                status=str(status),
                reason=reason,
                customer_id=customer_id,
                api_status=api_status,
                erase_password=status == Status.ONBOARDED,
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

    def release_row(
        self,
        key: str,
        run_id: str,
        *,
        reason: str,
        undo_attempt: bool = False,
        try_number: int | None = None,
        stop_message: str | None = None,
    ) -> list[dict[str, Any]]:
        """Return one row this run holds to the status it had before the claim.

        With ``stop_message`` a ``stopped`` event is written too: it tells the run's other
        tasks and its finish step that the run met a configuration error.
        """
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            rows = tx.run(
                "release_row", key=key, run_id=run_id, reason=reason, undo_attempts=int(undo_attempt), now=now
            )
            if stop_message is not None:
                self._event(tx, key, run_id, try_number, None, EVENT_STOPPED, stop_message, now=now)
            self._released_events(tx, rows, run_id, try_number, reason, now=now)
        return rows

    def release_run(self, run_id: str, *, reason: str) -> list[dict[str, Any]]:
        """Return every row this run still holds to the status it had before the claim."""
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            rows = tx.run("release_run", run_id=run_id, reason=reason, now=now)
            self._released_events(tx, rows, run_id, None, reason, now=now)
        return rows

    def _released_events(
        self,
        tx: _Transaction,
        rows: list[dict[str, Any]],
        run_id: str,
        try_number: int | None,
        reason: str,
        *,
        now: Any,
    ) -> None:
        for row in rows:
            message = f"returned to {row['status']}: {reason}"
            self._event(
                tx, row["customer_key"], run_id, try_number, row["attempts"], EVENT_RELEASED, message, now=now
            )

    def stop_reason(self, run_id: str) -> str | None:
        """The configuration error that stopped ``run_id``, if one did."""
        with self.transaction() as tx:
            return _stop_message(tx, run_id)

    def recover_unfinished(self, run_id: str, *, reason: str, max_attempts: int) -> int:
        """Rows still ``in_progress`` for ``run_id`` go to ``retry`` (``failed`` past ``max_attempts``).

        A row whose task never counted an attempt in this run has one counted now (see the SQL).

        Returns how many rows this run has had to recover so far, over every try of its finish
        step: the count comes from the events table, so a retried finish still sees it.
        """
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            rows = tx.run(
                "recover_unfinished",
                run_id=run_id,
                reason=reason,
                claimed_reason=_claimed_reason(run_id),
                max_attempts=max_attempts,
                now=now,
            )
            for row in rows:
                message = f"{row['status']}: {reason}"
                self._event(
                    tx, row["customer_key"], run_id, None, row["attempts"], EVENT_RECOVERED, message, now=now
                )
            return int(tx.run("recovered_count", run_id=run_id)[0]["n"])

    # -- reporting ------------------------------------------------------------------------------

    def status_counts(self, run_id: str | None = None) -> dict[str, int]:
        """Rows per status: those ``run_id`` handled, or the whole table."""
        with self.transaction() as tx:
            rows = tx.run("status_counts", run_id=run_id) if run_id else tx.run("table_status_counts")
        return {str(r["status"]): int(r["n"]) for r in rows}

    def needing_human(self, run_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """Rows ``run_id`` left ``invalid``, ``rejected``, ``conflict`` or ``failed``."""
        with self.transaction() as tx:
            rows = tx.run("needing_human", run_id=run_id, limit=limit)
        # These go into the run's note and XCom: keys and names as a person can read them.
        return [
            row
            | {
                "customer_key": display_text(row["customer_key"]),
                "organization_name": display_text(row["organization_name"]),
            }
            for row in rows
        ]

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
            "record_event",
            key=key,
            run_id=run_id,
            try_number=try_number,
            attempt=attempt,
            now=now,
            outcome=str(outcome),
            http_status=http_status,
            api_status=api_status,
            message=message[:2000],
        )

    def _timestamp(self, value: datetime) -> Any:
        """Timestamps bind as aware datetimes on PostgreSQL and as ISO-8601 UTC text on SQLite."""
        value = value.astimezone(UTC)
        return value.isoformat(sep=" ") if self.dialect == "sqlite" else value


def _log_unusable_keys(count: int, what: str) -> None:
    if count:
        log.warning(
            "%d row(s) have a customer_key with control or invisible characters or not valid UTF-8; "
            "their keys are never passed on (%s)",
            count,
            what,
        )


def _claimed_reason(run_id: str) -> str:
    """A claimed row's status_reason until its task counts an attempt (recover_unfinished reads it)."""
    return f"claimed by run {run_id}"


def _stop_message(tx: _Transaction, run_id: str) -> str | None:
    """The message of ``run_id``'s ``stopped`` event (a configuration error), if it has one."""
    rows = tx.run("stop_reason", run_id=run_id)
    return rows[0]["message"] if rows else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


# The ISO-8601 spellings a loader may use that SQLite's date functions do not read: a date, "T" or a
# blank, a time, and a zone written as Z, UTC, GMT, +HH, +HHMM or +HH:MM (with or without a blank
# before it). Nothing looser: a date parser that reads "next tuesday" or "27/11/2026" would guess.
_ISO_TIMESTAMP = re.compile(
    r"(?P<local>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r" ?(?P<zone>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)


def _parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 timestamp in one of :data:`_ISO_TIMESTAMP`'s spellings, as aware UTC; None otherwise.

    A timestamp without a zone is UTC, as the contract's naive columns are.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or isinstance(value, Undecodable):
        return None
    match = _ISO_TIMESTAMP.fullmatch(value.strip())
    if match is None:
        return None
    zone = match["zone"] or "+00:00"
    try:
        parsed = datetime.fromisoformat(match["local"] + ("+00:00" if zone in ("Z", "UTC", "GMT") else zone))
    except ValueError:  # month 13, hour 25, ...
        return None
    return parsed.astimezone(UTC)


def _expanding(params: Mapping[str, Any]) -> Iterator[str]:
    return (name for name, value in params.items() if isinstance(value, list | tuple))


def _plain_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with the values a user's own column types return (uuid, jsonb) as plain text."""
    return {
        key: str(value)
        if isinstance(value, uuid.UUID)
        else json.dumps(value)
        if isinstance(value, list | dict)
        else value
        for key, value in row.items()
    }


@lru_cache(maxsize=64)
def _template(dialect: str, name: str) -> Any:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([SQL_DIR / dialect, SQL_DIR / "common"]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    return environment.get_template(f"{name}.sql")
