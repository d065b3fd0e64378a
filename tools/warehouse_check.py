"""Run once against your own warehouse: does the claim stay exactly-once there, and what does it cost?

What the tests cannot show on an emulator (how Snowflake itself serialises two claims, what a claim
costs in seconds on a real warehouse) this shows on the connection you will deploy, on a scratch
table of its own (refused if a table of that name exists: your data is never touched)::

    python -m tools.warehouse_check --conn-id customer_warehouse --table CRM.PUBLIC.AVEPOINT_SMOKE

It creates the table and its events table, loads ``--rows`` made-up customers, lets four claimers
(each with its own connections) claim ``--limit`` rows at a time until none waits, checks that every
row was taken exactly once, prints the claims' latency, and drops the scratch tables (``--keep``
leaves them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from queue import Queue

CLAIMERS = 4
EAST_US = "e44bb3ed-f1d8-4055-8c77-c8fd8cd63409"


def _customers(rows: int) -> list[dict]:
    start = datetime.now(UTC) - timedelta(days=1)
    return [
        {
            "customer_key": f"SMOKE-{i:05d}",
            "first_name": "Smoke",
            "last_name": "Test",
            "organization_name": f"Smoke {i}",
            "registration_account": f"smoke-{i}@example.invalid",
            "country_code": "US",
            "data_center": EAST_US,
            "password": None,
            "requested_at": start + timedelta(seconds=i),
        }
        for i in range(rows)
    ]


def _claimer(conn_id: str, table: str, run_id: str, limit: int, start: threading.Barrier, out: Queue) -> None:
    from include.onboarding.warehouse import CustomerWarehouse

    store = CustomerWarehouse(conn_id, table)
    try:
        store.engine.connect().close()
        start.wait(timeout=300)
        taken: list[str] = []
        seconds: list[float] = []
        while True:
            began = time.perf_counter()
            got = store.claim(
                run_id=run_id, interval_end=datetime.now(UTC), limit=limit, claim_timeout=timedelta(hours=1)
            )
            seconds.append(time.perf_counter() - began)
            taken += got
            if not got and not store.status_counts().get("pending"):
                break
        out.put((run_id, taken, seconds, None))
    except Exception as exc:  # noqa: BLE001 - reported by the main thread
        out.put((run_id, [], [], exc))
    finally:
        store.dispose()


def check(conn_id: str, table: str, *, rows: int, limit: int, keep: bool) -> bool:
    """Race four claimers over a scratch table; True when every row was taken exactly once."""
    from include.onboarding.warehouse import CustomerWarehouse

    store = CustomerWarehouse(conn_id, table)
    with store.transaction() as tx:
        if store.dialect.table_columns(tx.connection, store.table_name) is not None:
            print(f"{store.table} exists: name a scratch table that does not", file=sys.stderr)
            return False
    print(f"{store.dialect.name}: scratch table {store.table}")
    try:
        store.prepare()
        store.add_customers(_customers(rows))
        start, out = threading.Barrier(CLAIMERS), Queue()
        threads = [
            threading.Thread(
                target=_claimer, args=(conn_id, table, f"smoke-{n}", limit, start, out), daemon=True
            )
            for n in range(CLAIMERS)
        ]
        for thread in threads:
            thread.start()
        results = [out.get(timeout=1800) for _ in threads]
        errors = [exc for *_, exc in results if exc is not None]
        if errors:
            print(f"a claimer failed: {errors[0]}", file=sys.stderr)
            return False
        claimed = [key for _, keys, _, _ in results for key in keys]
        latencies = sorted(s for _, _, seconds, _ in results for s in seconds)
        twice = len(claimed) - len(set(claimed))
        print(
            f"{len(claimed)} of {rows} rows claimed by {CLAIMERS} concurrent claimers in {len(latencies)} claims; "
            f"taken twice: {twice}; claim latency median {statistics.median(latencies) * 1000:.0f} ms, "
            f"slowest {latencies[-1] * 1000:.0f} ms"
        )
        return twice == 0 and len(set(claimed)) == rows
    finally:
        if not keep:
            with store.transaction() as tx:
                for name in (store.events_table, store.table):
                    tx.connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        store.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conn-id", default="customer_warehouse", help="the warehouse connection")
    parser.add_argument("--table", required=True, help="a scratch table that does not exist yet")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--limit", type=int, default=7, help="rows per claim")
    parser.add_argument("--keep", action="store_true", help="leave the scratch tables")
    args = parser.parse_args(argv)
    ok = check(args.conn_id, args.table, rows=args.rows, limit=args.limit, keep=args.keep)
    print("OK: exactly once" if ok else "FAILED", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
