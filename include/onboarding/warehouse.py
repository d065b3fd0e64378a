"""The ``customer_onboarding`` table and its events table: the lifecycle, written once for every engine.

Claim, attempts, outcomes, release and recovery are methods of :class:`CustomerWarehouse`; what an
engine does its own way (identifiers, column types, the claim's statements, connection set-up,
timestamps, error codes) is its :class:`~include.onboarding.dialects.Dialect` and its SQL files.
SQL lives in ``sql/`` beside this module, one file per method (``sql/<dialect>/NAME.sql`` when an
engine needs its own text, ``sql/common/NAME.sql`` otherwise). Statements run through SQLAlchemy
``text()`` with bound (and, for lists, expanding) parameters; Jinja fills in identifiers and the
dialect's keywords only (and, in DDL, literals of :class:`~include.onboarding.status.Status`).
SQLite (the embedded default), PostgreSQL, MySQL/MariaDB and Snowflake are supported.

An engine without ``UPDATE ... RETURNING`` (MySQL, Snowflake) changes several rows in three steps
in one transaction: pick them (locked where the engine has row locks), update exactly those while
re-checking every condition, and read back the ones the update changed
(:meth:`~include.onboarding.statements.Transaction.update`).
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Self

from airflow.sdk import BaseHook

from avepoint_provider.customer import Customer
from include.onboarding.dialects import Dialect, TableName, dialect_for
from include.onboarding.statements import NotAllowed, Transaction, WarehouseError, template
from include.onboarding.status import (
    CLAIMABLE,
    EVENT_RECOVERED,
    EVENT_RELEASED,
    EVENT_STOPPED,
    Status,
)
from include.onboarding.text import (
    Undecodable,
    display_text,
    key_problem,
    undecodable_columns,
    undecodable_reason,
)

log = logging.getLogger(__name__)

DEFAULT_TABLE = "customer_onboarding"

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
# Columns an error message may name (the customer table's and the events table's).
_KNOWN_COLUMNS = (*CONTRACT_COLUMNS, *PROJECT_COLUMNS, "event_id", "run_id", "outcome", "message", "event_at")
# How long a claim is tried again while concurrent transactions win (a deadlock, a write conflict):
# as long as a lock wait may last, since on an engine that waits the claim would wait that long.
CLAIM_CONFLICT_SECONDS = 120


class TableNotReady(Exception):
    """The configured table lacks contract columns (or may not be altered); the message names the DDL to run."""


class CustomerWarehouse:
    """Reads and writes the contract's tables through the common-sql connection ``conn_id``.

    :param conn_id: a ``sqlite``, ``postgres``, ``mysql`` or ``snowflake`` Airflow connection.
    :param table: the customer table (``schema.table`` allowed; ``database.schema.table`` on
        Snowflake; a quoted part keeps its case). The events table is ``<table>_events`` beside it.
    :param operations_schema: where the events, alerts and drift tables live instead, if set
        (``schema``, or ``database.schema`` on Snowflake): for a user who may not create tables
        beside their own.
    """

    # Columns an error message may name (see statements.warehouse_error).
    known_columns = _KNOWN_COLUMNS

    def __init__(
        self,
        conn_id: str = "customer_warehouse",
        table: str = DEFAULT_TABLE,
        *,
        operations_schema: str | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.configured_table = table
        self.operations_schema = operations_schema
        self._statements: dict[tuple[str, tuple[str, ...]], Any] = {}

    @classmethod
    def from_settings(cls, settings: Any, conn_id: str = "customer_warehouse") -> Self:
        """The warehouse the ``avepoint_onboarding`` Variable configures (its table and operations schema)."""
        return cls(conn_id, settings.table, operations_schema=settings.operations_schema)

    @cached_property
    def hook(self) -> Any:
        from airflow.sdk.exceptions import AirflowException

        connection = BaseHook.get_connection(self.conn_id)
        try:
            return connection.get_hook()
        except AirflowException as exc:
            if "Unknown hook type" not in str(exc):
                raise
            raise ValueError(
                f"connection {self.conn_id!r} is of type {connection.conn_type!r}, whose provider is not "
                "installed; the warehouse supports sqlite, postgres, mysql "
                "(apache-airflow-providers-mysql) and snowflake (apache-airflow-providers-snowflake)"
            ) from None

    @cached_property
    def dialect(self) -> Dialect:
        return dialect_for(self.hook.dialect_name, self.conn_id)

    @cached_property
    def table_name(self) -> TableName:
        return TableName.parse(self.configured_table, self.dialect)

    @cached_property
    def operations_table(self) -> TableName:
        """The customer table's name in the schema the operations tables live in."""
        if not self.operations_schema:
            return self.table_name
        return self.table_name.beside("", TableName.schema_only(self.operations_schema, self.dialect))

    @property
    def table(self) -> str:
        return self.table_name.quoted

    @property
    def events_table(self) -> str:
        return self.operations_table.beside("_events").quoted

    @cached_property
    def engine(self) -> Any:
        engine = self.hook.get_sqlalchemy_engine(engine_kwargs=self.dialect.engine_kwargs())
        self.dialect.prepare_engine(engine)
        return engine

    def render(self, name: str, **context: Any) -> str:
        dialect = self.dialect
        values = dict(
            table=self.table,
            events_table=self.events_table,
            index_name=self.table_name.index_name,
            types=dialect.types,
            pending=Status.PENDING.value,
            claimable=", ".join(f"'{s.value}'" for s in CLAIMABLE),
            # Without UPDATE ... RETURNING: see Transaction.update.
            returning=lambda columns: f"RETURNING {columns}" if dialect.returning else "",
            picked_only="" if dialect.returning else "AND customer_key IN :picked",
            for_update=dialect.for_update,
            # Only what prepare() knows of a user's table (engines without CREATE INDEX IF NOT EXISTS).
            existing_indexes=frozenset(),
            key_part=lambda column, _length: column,
            **self.more_tables(),
        )
        return template(dialect.name, name).render(values | context)

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
    def transaction(self, *, rollback: bool = False) -> Iterator[Transaction]:
        """One connection, one transaction: committed on success (unless ``rollback``), rolled back on error."""
        with self.engine.connect() as connection, connection.begin() as transaction:
            yield Transaction(connection, self)
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
        columns and the indexes are added to it here, once, and logged; where the connection's
        user may not, :class:`TableNotReady` names the statements its owner runs once.
        """
        table = self.table_name
        with self.transaction() as tx:
            present = self.dialect.table_columns(tx.connection, table)
            if present is None:
                self._refuse_a_case_twin(tx)
                tx.script("create_table")
            else:
                missing = [c for c in CONTRACT_COLUMNS if c not in present]
                if missing:
                    raise TableNotReady(self._missing_columns_message(missing))
                if any(c not in present for c in PROJECT_COLUMNS):
                    log.warning(
                        "Adding the project's column previous_status to %s (the status a claimed row "
                        "returns to if its run stops)",
                        self.table,
                    )
                    self._owner_script(tx, "add_project_columns")
            # Table before events table, as release does: never the other order.
            self._owner_script(tx, "create_indexes", **self._index_context(tx, present is not None))
            tx.script("create_events_table")

    def _refuse_a_case_twin(self, tx: Transaction) -> None:
        """A table whose name differs from the configured one only in case is the user's, misnamed."""
        table = self.table_name
        twins = sorted(
            n for n in self.dialect.table_names(tx.connection, table) if n.lower() == table.name.lower()
        )
        if twins:
            twin = TableName(table.schema, twins[0], self.dialect).quoted
            raise TableNotReady(
                f"table {self.table} does not exist, and {twin} differs only in case (names keep their case "
                "here); nothing was created. Name the table as it is spelled, or quote it"
            )

    def _index_context(self, tx: Transaction, existed: bool) -> dict[str, Any]:
        """What create_indexes.sql needs to know of an existing table where the engine asks for it."""
        if self.dialect.index_if_not_exists or not existed:
            return {}
        dialect, table = self.dialect, self.table_name
        existing = {dialect.quote(n) for n in dialect.index_names(tx.connection, table)}
        unindexable = dialect.unindexable_columns(tx.connection, table)
        return {
            "existing_indexes": existing,
            "key_part": lambda column, length: f"{column}({length})" if column in unindexable else column,
        }

    def _owner_script(self, tx: Transaction, name: str, **context: Any) -> None:
        """A DDL file on the user's table; if its user may not run it, :class:`TableNotReady` quotes it."""
        import sqlparse

        try:
            tx.script(name, **context)
        except NotAllowed:
            statements = [
                sqlparse.format(sql, strip_comments=True).strip().rstrip(";")
                for sql in sqlparse.split(self.render(name, **context))
            ]
            ddl = "; ".join(" ".join(sql.split()) for sql in statements if sql)
            raise TableNotReady(
                f"the connection's user may not alter table {self.table}; nothing was claimed. "
                f"Run once as its owner: {ddl}"
            ) from None

    def _missing_columns_message(self, missing: Sequence[str]) -> str:
        types = self.dialect.types
        timestamp, short = types["timestamp"], types["short_text"]
        kinds = {c: "TEXT" for c in missing} | {
            "customer_key": short,
            "claimed_by": short,
            "management_mode": types["boolean"],
            "api_status": "INTEGER",
            "attempts": "INTEGER NOT NULL DEFAULT 0",
            "requested_at": f"{timestamp} NOT NULL DEFAULT {types['now']}",
            "updated_at": timestamp,
            "claimed_at": timestamp,
            "status": f"{short} NOT NULL DEFAULT '{Status.PENDING}'",
        }
        ddl = "; ".join(f"ALTER TABLE {self.table} ADD COLUMN {c} {kinds[c]}" for c in missing)
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
        give_up = time.monotonic() + CLAIM_CONFLICT_SECONDS
        tries = 1
        while True:
            try:
                with self.transaction() as tx:
                    self._settle_unreadable_requested_at(tx, run_id)
                    rows = self._claim_rows(tx, params)
                    usable = self._set_unusable_keys_invalid(tx, rows, run_id, params["now"])
                break
            except Exception as exc:
                if time.monotonic() > give_up or not self._lost_to_a_concurrent_claim(exc):
                    raise
                # The whole transaction again, on what the other one committed: as a lock wait would.
                tries += 1
                log.info("The claim of run %s met a concurrent claim; claiming again (try %d)", run_id, tries)
                time.sleep(random.uniform(0, min(0.02 * tries, 0.5)))
        _log_unusable_keys(len(rows) - len(usable), "set invalid")
        return usable

    def _claim_rows(self, tx: Transaction, params: dict[str, Any]) -> list[dict[str, Any]]:
        """One statement where the engine can return rows from an UPDATE; else pick, mark, read back.

        Without row locks (Snowflake) a concurrent claim may take picked rows before this one marks
        them; the mark's re-check leaves them out, and the rows still wanted are picked again.
        """
        if self.dialect.returning:
            return tx.run("claim", **params)
        taken: list[dict[str, Any]] = []
        while len(taken) < params["limit"]:
            picked = [
                r["customer_key"]
                for r in tx.run("claim_pick", **params | {"limit": params["limit"] - len(taken)})
            ]
            if not picked:
                break
            tx.run("claim_mark", **params, picked=picked)
            if self.dialect.for_update and tx.rowcount == len(picked):
                # The pick locked its rows, so the mark took them all: no need to read them back.
                return [{"customer_key": key} for key in picked]
            got = tx.run("claim_read", **params, picked=picked)
            taken += got
            if len(got) == len(picked):
                break  # nothing lost to a concurrent claim: the pick was all there is, or enough
        return taken

    def _set_unusable_keys_invalid(
        self, tx: Transaction, rows: list[dict[str, Any]], run_id: str, now: Any
    ) -> list[str]:
        usable: list[str] = []
        for row in rows:
            key = row["customer_key"]
            # Printable ASCII holds no control or invisible character: most keys skip the full check
            # (an Undecodable, a str subclass, never does).
            problem = None if type(key) is str and key.isascii() and key.isprintable() else key_problem(key)
            if problem is None:
                usable.append(str(row["customer_key"]))
                continue
            # A key that is not UTF-8 is addressed by its stored bytes (SQLite's claim returns them).
            key = row["raw_key"] if isinstance(row["customer_key"], Undecodable) else row["customer_key"]
            tx.run("mark_invalid", key=key, run_id=run_id, reason=problem, undo_attempts=0, now=now)
            self._event(tx, key, run_id, None, None, Status.INVALID, problem, now=now)
        return usable

    def _lost_to_a_concurrent_claim(self, error: BaseException) -> bool:
        if isinstance(error, WarehouseError):
            return error.conflict
        # A conflict found at commit comes from the driver itself.
        return self.dialect.is_conflict(getattr(error, "orig", None) or error)

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
            rows = self._claim_rows(tx, self._claim_params(run_id, interval_end, limit, claim_timeout, keys))
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

    def _settle_unreadable_requested_at(self, tx: Transaction, run_id: str) -> None:
        """SQLite: rewrite other ISO-8601 spellings of ``requested_at``; an unreadable one is invalid.

        SQLite's date functions read neither ``+0000`` nor `` UTC``, so such a row would never
        be claimed and would wait forever without a reason. The other engines type the column.
        """
        if not self.dialect.text_timestamps:
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
            rows = tx.update(
                "begin_attempt",
                read="attempt_row",
                key=key,
                run_id=run_id,
                now=now,
                reason=f"being sent by run {run_id}",
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

    def _mark_unsendable(self, tx: Transaction, key: str, run_id: str, reason: str, *, now: Any) -> None:
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
            rows = tx.update(
                "release_row",
                read="released_rows",
                key=key,
                picked=[key],
                run_id=run_id,
                reason=reason,
                undo_attempts=int(undo_attempt),
                now=now,
            )
            if stop_message is not None:
                self._event(tx, key, run_id, try_number, None, EVENT_STOPPED, stop_message, now=now)
            self._released_events(tx, rows, run_id, try_number, reason, now=now)
        return rows

    def release_run(self, run_id: str, *, reason: str) -> list[dict[str, Any]]:
        """Return every row this run still holds to the status it had before the claim."""
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            rows = tx.update(
                "release_run", pick="held_keys", read="released_rows", run_id=run_id, reason=reason, now=now
            )
            self._released_events(tx, rows, run_id, None, reason, now=now)
        return rows

    def _released_events(
        self,
        tx: Transaction,
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
            rows = tx.update(
                "recover_unfinished",
                pick="held_keys",
                read="released_rows",
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
        tx: Transaction,
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
        """A timestamp as the engine binds it (see :meth:`Dialect.bind_timestamp`)."""
        return self.dialect.bind_timestamp(value)


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


def _stop_message(tx: Transaction, run_id: str) -> str | None:
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
