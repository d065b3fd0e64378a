"""Scenario 7: claiming 500 waiting rows of 50,000 and of 500,000, on every engine.

Per engine, two tables with identical contents in one fresh database, both created by
``CustomerWarehouse.prepare()`` (same columns and indexes) and bulk-loaded: the project's
``CustomerWarehouse.claim(limit=500)`` runs against one, the same engine's hand-written claim (the
statement(s) a person would write for a queue on that engine, see ``BASELINES``) against the other.
Each hand-written claim opens its own connection, as a task does; between repetitions the claimed
rows go back to ``pending`` (PostgreSQL also vacuums), so every repetition starts from the same
state, and each repetition asserts that both sides took the same keys. Run at two table sizes, the
project's time at the larger one against the smaller shows whether the claim's cost stays flat.

Snowflake runs on fakesnow (DuckDB behind the real connector): its times show the statements work at
that size, not what Snowflake would take (no micro-partitions, no warehouse, ~0.3 s of translation
per statement); it has no target.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import VAR, Result, alternate, customer, median, postgres_server, spread
from include.onboarding.warehouse import INPUT_COLUMNS

CLAIM_TARGET = 1.5
CONN_ID = "bench_warehouse"
PROJECT_TABLE = "customer_onboarding"
BASELINE_TABLE = "customer_onboarding_baseline"
# The larger table is this many times the smaller.
GROWTH = 10
# The warehouse's input columns, then what a pending row carries besides.
_COLUMNS = (*INPUT_COLUMNS, "status", "attempts", "requested_at")
START = datetime(2026, 1, 1, tzinfo=UTC)

# The hand-written claim per engine: what a person writes for a queue table on it.
BASELINES = {
    "postgresql": """
UPDATE {table}
SET status = 'in_progress', claimed_by = %(run_id)s, claimed_at = now(), updated_at = now()
WHERE customer_key IN (
    SELECT customer_key FROM {table}
    WHERE status = 'pending'
    ORDER BY requested_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING customer_key
""",
    "sqlite": """
UPDATE {table}
SET status = 'in_progress', claimed_by = :run_id, claimed_at = :now, updated_at = :now
WHERE customer_key IN (
    SELECT customer_key FROM {table} WHERE status = 'pending' ORDER BY requested_at LIMIT :limit
)
RETURNING customer_key
""",
    # MySQL has no UPDATE ... RETURNING: lock the rows, then mark them.
    "mysql": """
SELECT customer_key FROM {table} WHERE status = 'pending' ORDER BY requested_at LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
;
UPDATE {table}
SET status = 'in_progress', claimed_by = %(run_id)s, claimed_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6)
WHERE customer_key IN %(keys)s
""",
    # Snowflake has no row locks and no UPDATE ... RETURNING: mark, then read back.
    "snowflake": """
UPDATE {table}
SET status = 'in_progress', claimed_by = %(run_id)s, claimed_at = SYSDATE(), updated_at = SYSDATE()
WHERE customer_key IN (
    SELECT customer_key FROM {table} WHERE status = 'pending' ORDER BY requested_at LIMIT %(limit)s
)
;
SELECT customer_key FROM {table} WHERE claimed_by = %(run_id)s
""",
}
RESET_SQL = """
UPDATE {table}
SET status = 'pending', previous_status = NULL, status_reason = NULL, claimed_by = NULL,
    claimed_at = NULL, updated_at = NULL
WHERE claimed_by IS NOT NULL
"""
# Which index keeps each engine's claim flat (the README and the results' notes say it too).
INDEXES = {
    "postgresql": "the partial index (requested_at, customer_key) WHERE status IN (pending, retry, in_progress)",
    "mysql": "(status, requested_at, customer_key), walked once per claimable status",
    "sqlite": "the partial expression index (julianday(requested_at), customer_key) WHERE status IN (...)",
    "snowflake": "none: Snowflake has no indexes (micro-partition pruning; a clustering key is the owner's call)",
}


@dataclass
class Engine:
    """One engine's database for the scenario: its connection, loader and hand-written claim."""

    name: str
    label: str
    connection: dict[str, Any]
    connect: Callable[[], Any]
    judged: bool = True
    notes: list[str] = field(default_factory=list)

    def sql(self, statement: str, params: Any = None) -> list[tuple]:
        conn = self.connect()
        try:
            cursor = conn.cursor()
            cursor.execute(statement, params or {})
            rows = list(cursor.fetchall()) if cursor.description else []
            conn.commit()
            return rows
        finally:
            conn.close()

    def load(self, table: str, first: int, last: int, dialect: Any) -> None:
        """Pending customers ``first`` .. ``last - 1``, one second apart from START, in bulk."""
        if self.name == "postgresql":
            _copy_into_postgres(self.connection, table, first, last)
            return
        if self.name == "snowflake":
            _write_pandas(table, first, last)
            return
        marker = "?" if self.name == "sqlite" else "%s"
        statement = (
            f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES ({', '.join([marker] * len(_COLUMNS))})"
        )
        conn = self.connect()
        try:
            cursor = conn.cursor()
            for batch in range(first, last, 5000):
                cursor.executemany(
                    statement, [_row(i, dialect) for i in range(batch, min(batch + 5000, last))]
                )
            conn.commit()
        finally:
            conn.close()

    def hand_written_claim(self, table: str, run_id: str, limit: int) -> list[str]:
        """The baseline: the engine's hand-written claim on a new connection, committed."""
        statements = [s.strip() for s in BASELINES[self.name].format(table=table).split(";\n")]
        params: dict[str, Any] = {
            "run_id": run_id,
            "limit": limit,
            "now": datetime.now(UTC).isoformat(sep=" "),
        }
        conn = self.connect()
        try:
            cursor = conn.cursor()
            if self.name == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            rows: list[tuple] = []
            for statement in statements:
                cursor.execute(statement, params)
                if statement.startswith("SELECT") or "RETURNING" in statement:  # the claimed keys
                    rows = list(cursor.fetchall())
                    params["keys"] = tuple(r[0] for r in rows) or ("",)
            conn.commit()
        finally:
            conn.close()
        return [str(r[0]) for r in rows]

    def reset(self, *tables: str) -> None:
        for table in tables:
            self.sql(RESET_SQL.format(table=table))
        if self.name == "postgresql":
            _vacuum(self.connection, *tables)


def run(*, rows: int, claim: int, repeat: int, enforce: bool) -> list[Result]:
    results: list[Result] = []
    for engine_context in (_sqlite, _postgres, _mariadb, _snowflake):
        with engine_context() as engine:
            results += _run_engine(engine, rows=rows, claim=claim, repeat=repeat, enforce=enforce)
    return results


def _run_engine(engine: Engine, *, rows: int, claim: int, repeat: int, enforce: bool) -> list[Result]:
    """Both table sizes on one engine: the smaller, then the larger (the same tables, grown)."""
    from include.onboarding.warehouse import CustomerWarehouse

    env_key = f"AIRFLOW_CONN_{CONN_ID.upper()}"
    os.environ[env_key] = json.dumps(engine.connection)
    try:
        store = CustomerWarehouse(CONN_ID, PROJECT_TABLE)
        store.prepare()
        baseline_store = CustomerWarehouse(CONN_ID, BASELINE_TABLE)
        baseline_store.prepare()
        tables = (store.table, baseline_store.table)
        results: list[Result] = []
        loaded = 0
        medians: dict[int, float] = {}
        for size in (rows, rows * GROWTH):
            for table in tables:  # the larger size grows the same tables
                engine.load(table, loaded, size, store.dialect)
            loaded = size
            engine.reset(*tables)
            result = _measure(engine, store, tables[1], size, claim, repeat)
            medians[size] = result.project
            results.append(result)
        growth = medians[rows * GROWTH] / medians[rows]
        for result in results:
            result.notes.append(
                f"{engine.label}: the project's claim at {rows * GROWTH:,} rows took {growth:.2f}x its time at "
                f"{rows:,}; index: {INDEXES[engine.name]}"
            )
            result.judge(enforce and engine.judged)
        store.dispose()
        baseline_store.dispose()
        return results
    finally:
        os.environ.pop(env_key, None)


def _measure(engine: Engine, store: Any, baseline_table: str, size: int, claim: int, repeat: int) -> Result:
    interval_end = START + timedelta(days=3650)
    claimed: dict[str, list[str]] = {}

    def project(rep: int) -> float:
        began = time.perf_counter()
        keys = store.claim(
            run_id=f"bench-{rep}", interval_end=interval_end, limit=claim, claim_timeout=timedelta(hours=1)
        )
        seconds = time.perf_counter() - began
        claimed["project"] = keys
        return seconds

    def baseline(rep: int) -> float:
        began = time.perf_counter()
        claimed["baseline"] = engine.hand_written_claim(baseline_table, f"bench-{rep}", claim)
        return time.perf_counter() - began

    def check_and_reset() -> None:
        ours, theirs = sorted(claimed.pop("project")), sorted(claimed.pop("baseline"))
        if len(ours) != claim or ours != theirs:
            raise AssertionError(f"{engine.label}: the claims differ: {len(ours)} vs {len(theirs)} keys")
        engine.reset(store.table, baseline_table)

    # Warm-up (untimed): imports, the hook, the server's caches; then the timed pairs.
    project(-1)
    baseline(-1)
    check_and_reset()
    ours, theirs = alternate(repeat, project, baseline, after_each=check_and_reset)
    target = f"<= {CLAIM_TARGET}x" if engine.judged else "- (emulator)" if engine.name == "snowflake" else "-"
    return Result(
        7,
        f"claiming rows on {engine.label}: `CustomerWarehouse.claim` vs the engine's hand-written claim",
        f"{claim} of {size:,} rows",
        median(ours) * 1000,
        median(theirs) * 1000,
        "ms",
        target,
        limit=CLAIM_TARGET if engine.judged else None,
        notes=[
            f"{engine.label}, {size:,} rows: {repeat} repetitions, alternating; project {spread(ours, 'ms')}, "
            f"hand-written {spread(theirs, 'ms')}; both took the same {claim} keys",
            *engine.notes,
            *_plans(engine, store, interval_end, claim),
        ],
    )


# -- the engines -------------------------------------------------------------------------------------


@contextmanager
def _sqlite() -> Iterator[Engine]:
    VAR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=VAR) as directory:
        path = Path(directory) / "claim.db"
        yield Engine(
            "sqlite",
            "SQLite",
            {"conn_type": "sqlite", "host": str(path)},
            lambda: sqlite3.connect(path, isolation_level=None, timeout=60),
        )


@contextmanager
def _postgres() -> Iterator[Engine]:
    import psycopg

    from tests.support.postgres import fresh_postgres_database, postgres_connection

    with fresh_postgres_database(postgres_server()) as url:
        yield Engine("postgresql", "PostgreSQL", postgres_connection(url), lambda: psycopg.connect(url))


@contextmanager
def _mariadb() -> Iterator[Engine]:
    try:
        import MySQLdb
    except ImportError:
        raise RuntimeError(
            "mysqlclient is not installed (requirements-mysql.txt; it needs libmariadb-dev, pkg-config "
            "and gcc, then make install)"
        ) from None

    from tests.support.mariadb import MARIADB_URL, _server, fresh_mariadb_database, mariadb_connection

    try:
        MySQLdb.connect(**_server()).close()
    except MySQLdb.OperationalError as exc:
        raise RuntimeError(
            f"MariaDB is not reachable at {MARIADB_URL} (set AVEPOINT_TEST_MARIADB): {exc}"
        ) from None
    with fresh_mariadb_database() as database:
        yield Engine(
            "mysql",
            "MariaDB",
            mariadb_connection(database),
            lambda: MySQLdb.connect(**_server(), database=database, charset="utf8mb4"),
        )


@contextmanager
def _snowflake() -> Iterator[Engine]:
    import snowflake.connector

    from tests.support.snowflake import SNOWFLAKE_DATABASE, snowflake_connection, snowflake_emulator

    def connect() -> Any:
        return snowflake.connector.connect(
            user="bench",
            password="emulated",
            account="fakesnow",
            database=SNOWFLAKE_DATABASE,
            schema="PUBLIC",
        )

    with snowflake_emulator():
        yield Engine("snowflake", "Snowflake (fakesnow)", snowflake_connection(), connect, judged=False)


# -- loading -----------------------------------------------------------------------------------------


def _row(i: int, dialect: Any) -> tuple:
    row = customer(f"C{i:07d}", requested_at=START + timedelta(seconds=i))
    row |= {
        "tags": json.dumps(row["tags"]),
        "status": "pending",
        "attempts": 0,
        "requested_at": dialect.bind_timestamp(row["requested_at"]),
    }
    return tuple(row[column] for column in _COLUMNS)


def _copy_into_postgres(connection: dict[str, Any], table: str, first: int, last: int) -> None:
    import psycopg

    from include.onboarding.dialects import DIALECTS

    with psycopg.connect(**_psycopg(connection)) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for i in range(first, last):
                copy.write_row(_row(i, DIALECTS["postgresql"]))
        conn.commit()
    _vacuum(connection, table)


def _write_pandas(table: str, first: int, last: int) -> None:
    """Through the connector's write_pandas (emulated by fakesnow): one statement, not one per row."""
    import pandas
    import snowflake.connector
    from snowflake.connector.pandas_tools import write_pandas

    from include.onboarding.dialects import DIALECTS
    from tests.support.snowflake import SNOWFLAKE_DATABASE

    frame = pandas.DataFrame(
        [_row(i, DIALECTS["snowflake"]) for i in range(first, last)], columns=[c.upper() for c in _COLUMNS]
    )
    name = table.split(".")[-1].strip('"')
    with snowflake.connector.connect(
        user="bench", password="emulated", account="fakesnow", database=SNOWFLAKE_DATABASE, schema="PUBLIC"
    ) as conn:
        write_pandas(conn, frame, name)


def _psycopg(connection: dict[str, Any]) -> dict[str, Any]:
    return {
        "host": connection["host"],
        "port": connection["port"],
        "user": connection["login"],
        "dbname": connection["schema"],
        **({"password": connection["password"]} if connection.get("password") else {}),
    }


def _vacuum(connection: dict[str, Any], *tables: str) -> None:
    import psycopg

    with psycopg.connect(**_psycopg(connection), autocommit=True) as conn:
        for table in tables:
            conn.execute(f"VACUUM ANALYZE {table}")


# -- what the server does ----------------------------------------------------------------------------


def _plans(engine: Engine, store: Any, interval_end: datetime, limit: int) -> list[str]:
    """How the engine runs the project's claim: PostgreSQL's execution time, the others' index use."""
    from sqlalchemy import String, bindparam, text

    from include.onboarding.statements import STATUS_PARAMS as _STATUS_PARAMS

    if engine.name == "snowflake":
        return []
    params = _STATUS_PARAMS | store._claim_params("explain", interval_end, limit, timedelta(hours=1), ())
    statement = {"postgresql": "claim", "sqlite": "claim", "mysql": "claim_pick"}[engine.name]
    prefix = {
        "postgresql": "EXPLAIN (ANALYZE, FORMAT JSON) ",
        "sqlite": "EXPLAIN QUERY PLAN ",
        "mysql": "EXPLAIN ",
    }
    params["keys"] = [""]
    explain = text(prefix[engine.name] + store.render(statement))
    lists = [n for n in explain._bindparams if isinstance(params.get(n), list)]
    explain = explain.bindparams(*(bindparam(n, expanding=True, type_=String) for n in lists))
    with store.transaction(rollback=True) as tx:
        rows = tx.connection.execute(explain, params).fetchall()
    if engine.name == "postgresql":
        return [
            f"PostgreSQL: the project's claim statement on the server: {rows[0][0][0]['Execution Time']:.1f} ms execution"
        ]
    if engine.name == "sqlite":
        return ["SQLite's plan of the claim: " + "; ".join(str(r[-1]) for r in rows)]
    keys = [f"{r[2] or 'derived'}: {r[5] or 'no index'} (~{r[8]} rows)" for r in rows if r[5] or r[2]]
    return ["MariaDB's plan of claim_pick.sql: " + "; ".join(keys)]
