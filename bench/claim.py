"""Scenario 7: claiming 500 of 50,000 waiting rows on PostgreSQL.

Two tables with identical contents in one fresh database, both created by
``CustomerWarehouse.prepare()`` (same columns and indexes) and filled by ``COPY``: the
project's ``CustomerWarehouse.claim(limit=500)`` runs against one, a hand-written single
``UPDATE ... WHERE customer_key IN (SELECT ... ORDER BY requested_at LIMIT 500 FOR UPDATE SKIP
LOCKED) RETURNING customer_key`` against the other. Each side opens its own connection per claim,
as a task does, and the connection is inside both timed regions. Between repetitions the claimed
rows go back to ``pending`` and both tables are vacuumed, so every repetition starts from the
same state. Each repetition asserts that both sides took the same 500 keys.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Result, alternate, customer, median, postgres_server, spread
from include.onboarding.warehouse import INPUT_COLUMNS

CLAIM_TARGET = 1.5
CONN_ID = "bench_warehouse"
PROJECT_TABLE = "customer_onboarding"
BASELINE_TABLE = "customer_onboarding_baseline"

BASELINE_SQL = """
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
"""
RESET_SQL = """
UPDATE {table}
SET status = 'pending', previous_status = NULL, status_reason = NULL, claimed_by = NULL,
    claimed_at = NULL, updated_at = NULL
WHERE claimed_by IS NOT NULL
"""
# The warehouse's input columns, then what a pending row carries besides.
_COLUMNS = (*INPUT_COLUMNS, "status", "attempts", "requested_at")


def _load(url: str, table: str, rows: int, start: datetime) -> None:
    """``rows`` pending customers, one second apart from ``start``, by COPY."""
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        with cursor.copy(f'COPY "{table}" ({", ".join(_COLUMNS)}) FROM STDIN') as copy:
            for i in range(rows):
                key = f"C{i:07d}"
                row = customer(key, requested_at=start + timedelta(seconds=i))
                row |= {"tags": json.dumps(row["tags"]), "status": "pending", "attempts": 0}
                copy.write_row(tuple(row[column] for column in _COLUMNS))
        conn.commit()


def _vacuum(url: str, *tables: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            conn.execute(f'VACUUM ANALYZE "{table}"')


def _reset(url: str) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        for table in (PROJECT_TABLE, BASELINE_TABLE):
            conn.execute(RESET_SQL.format(table=f'"{table}"'))
        conn.commit()
    _vacuum(url, PROJECT_TABLE, BASELINE_TABLE)


def hand_written_claim(url: str, run_id: str, limit: int) -> list[str]:
    """The baseline: one statement on a new connection, committed."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            BASELINE_SQL.format(table=f'"{BASELINE_TABLE}"'), {"run_id": run_id, "limit": limit}
        ).fetchall()
        conn.commit()
    return [str(r[0]) for r in rows]


def run(*, rows: int, claim: int, repeat: int, enforce: bool) -> list[Result]:
    from include.onboarding.warehouse import CustomerWarehouse
    from tests.support.postgres import fresh_postgres_database, postgres_connection

    server = postgres_server()
    env_key = f"AIRFLOW_CONN_{CONN_ID.upper()}"
    with fresh_postgres_database(server) as url:
        os.environ[env_key] = json.dumps(postgres_connection(url))
        try:
            store = CustomerWarehouse(CONN_ID, PROJECT_TABLE)
            store.prepare()
            CustomerWarehouse(CONN_ID, BASELINE_TABLE).prepare()
            start = datetime(2026, 1, 1, tzinfo=UTC)
            for table in (PROJECT_TABLE, BASELINE_TABLE):
                _load(url, table, rows, start)
            _vacuum(url, PROJECT_TABLE, BASELINE_TABLE)
            interval_end = start + timedelta(days=365)
            claimed: dict[str, list[str]] = {}

            def project(rep: int) -> float:
                began = time.perf_counter()
                keys = store.claim(
                    run_id=f"bench-{rep}",
                    interval_end=interval_end,
                    limit=claim,
                    claim_timeout=timedelta(hours=1),
                )
                seconds = time.perf_counter() - began
                claimed["project"] = keys
                return seconds

            def baseline(rep: int) -> float:
                began = time.perf_counter()
                claimed["baseline"] = hand_written_claim(url, f"bench-{rep}", claim)
                return time.perf_counter() - began

            def check_and_reset() -> None:
                ours, theirs = sorted(claimed.pop("project")), sorted(claimed.pop("baseline"))
                if len(ours) != claim or ours != theirs:
                    raise AssertionError(f"the claims differ: {len(ours)} vs {len(theirs)} keys")
                _reset(url)

            # Warm-up (untimed): imports, the hook, the server's caches; then the timed pairs.
            project(-1)
            baseline(-1)
            check_and_reset()
            ours, theirs = alternate(repeat, project, baseline, after_each=check_and_reset)
            plans = _plans(url, store, interval_end, claim)
        finally:
            os.environ.pop(env_key, None)
    result = Result(
        7,
        "claiming rows on PostgreSQL: `CustomerWarehouse.claim` vs one hand-written UPDATE ... RETURNING",
        f"{claim} of {rows:,} rows",
        median(ours) * 1000,
        median(theirs) * 1000,
        "ms",
        f"<= {CLAIM_TARGET}x",
        limit=CLAIM_TARGET,
        notes=[
            f"{repeat} repetitions, alternating, a new connection inside both timed regions; "
            f"project {spread(ours, 'ms')}, hand-written {spread(theirs, 'ms')}; both took the same {claim} keys",
            *plans,
        ],
    )
    return [result.judge(enforce)]


def _plans(url: str, store: Any, interval_end: datetime, limit: int) -> list[str]:
    """Server-side execution time of both statements (EXPLAIN ANALYZE, rolled back)."""
    import psycopg
    from sqlalchemy import String, bindparam, text

    from include.onboarding.warehouse import _STATUS_PARAMS

    params = _STATUS_PARAMS | store._claim_params("explain", interval_end, limit, timedelta(hours=1), ())
    explain = text("EXPLAIN (ANALYZE, FORMAT JSON) " + store.render("claim")).bindparams(
        bindparam("keys", expanding=True, type_=String)
    )
    with store.transaction(rollback=True) as tx:
        plans = {"project": tx.connection.execute(explain, params).scalar()[0]}
    with psycopg.connect(url) as conn:
        sql = "EXPLAIN (ANALYZE, FORMAT JSON) " + BASELINE_SQL.format(table=f'"{BASELINE_TABLE}"')
        plans["hand-written"] = conn.execute(sql, {"run_id": "explain", "limit": limit}).fetchone()[0][0]
        conn.rollback()
    return [
        f"{label} statement on the server: {plan['Execution Time']:.1f} ms execution"
        for label, plan in plans.items()
    ]
