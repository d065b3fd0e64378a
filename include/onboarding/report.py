"""Audit export: the rows that need a human, each with its last events, as CSV or JSON.

For the person who fixes them (``make report``)::

    python -m include.onboarding.report                          # the four statuses needing a human, CSV
    python -m include.onboarding.report --status invalid --status failed --events 3 --format json
    python -m include.onboarding.report --output var/needs-human.csv

The warehouse is the ``customer_warehouse`` connection (``AIRFLOW_CONN_CUSTOMER_WAREHOUSE`` or any
Airflow secrets backend; ``make report`` adds what ``airflow_settings.yaml`` holds, see
``tools/report.py``). The table is ``--table``, else the one in the ``avepoint_onboarding``
Variable given as ``AIRFLOW_VAR_AVEPOINT_ONBOARDING``, else ``customer_onboarding``: the report
reads no Airflow metadata database.

Alerts that could not be delivered and were set aside (outcome ``dead`` in ``<table>_alerts``)
are counted on standard error.

The columns are listed one by one in ``sql/common/report_rows.sql``: there is no password column,
ever. The report does hold the customers' sign-in accounts (the person fixing a row needs them):
``--output`` creates the file readable by its owner only (mode 0600); keep it where the warehouse's
data may be.

The rows it lists are the ones whose text nobody vetted (that is why they need a human), and a CSV
is opened in a spreadsheet: every cell is quoted, and a cell that a spreadsheet would run as a
formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, OWASP's rule, or
their full-width forms) gets a leading ``'``, so it shows as text.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from include.onboarding.status import NEEDS_HUMAN, Status

ROW_COLUMNS = (
    "customer_key",
    "organization_name",
    "registration_account",
    "country_code",
    "status",
    "status_reason",
    "attempts",
    "api_status",
    "avepoint_customer_id",
    "requested_at",
    "updated_at",
    "claimed_by",
)
EVENT_COLUMNS = (
    "event_at",
    "run_id",
    "try_number",
    "attempt",
    "outcome",
    "http_status",
    "api_status",
    "message",
)


def build_report(store: Any, statuses: Sequence[str], events_per_row: int) -> list[dict[str, Any]]:
    """The rows in ``statuses`` (explicit columns), each with ``events``: its last events, newest first."""
    rows = [{c: row.get(c) for c in ROW_COLUMNS} for row in store.report_rows(statuses)]
    events: dict[str, list[dict[str, Any]]] = {}
    if events_per_row > 0 and rows:
        for event in store.report_events(statuses, events_per_row):
            events.setdefault(str(event["customer_key"]), []).append({c: event.get(c) for c in EVENT_COLUMNS})
    for row in rows:
        row["events"] = events.get(str(row["customer_key"]), [])
    return rows


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=2, default=_plain) + "\n"


def to_csv(rows: list[dict[str, Any]], events_per_row: int) -> str:
    """One line per row; its events in numbered columns (``event_1_outcome`` is the newest)."""
    header = list(ROW_COLUMNS) + [
        f"event_{i}_{c}" for i in range(1, events_per_row + 1) for c in ("event_at", "outcome", "message")
    ]
    out = io.StringIO()
    # Every cell quoted (OWASP's advice): a carriage return inside a value stays inside its cell.
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    for row in rows:
        line = [_cell(row[c]) for c in ROW_COLUMNS]
        for i in range(events_per_row):
            event = row["events"][i] if i < len(row["events"]) else {}
            line += [_cell(event.get(c)) for c in ("event_at", "outcome", "message")]
        writer.writerow(line)
    return out.getvalue()


# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection"), and the full-width
# forms some spreadsheets read the same way.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _cell(value: Any) -> str:
    """A CSV cell shown as text by a spreadsheet, never run as a formula."""
    text = "" if value is None else _plain(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable and writable by its owner only (it holds e-mail addresses)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # An existing file keeps its mode through os.open: narrowed here, before anything is written.
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    statuses = [s.value for s in Status]
    parser = argparse.ArgumentParser(
        prog="python -m include.onboarding.report",
        description="Rows needing a human, with their last events (never a password).",
    )
    parser.add_argument(
        "--status",
        action="append",
        choices=statuses,
        help="a status to include (repeatable); default: " + ", ".join(s.value for s in NEEDS_HUMAN),
    )
    parser.add_argument("--events", type=int, default=5, help="last events per row (default 5; 0 for none)")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument("--output", type=Path, help="write to this file instead of standard output")
    parser.add_argument("--table", help="the customer table (default: the avepoint_onboarding Variable's)")
    parser.add_argument("--conn-id", default="customer_warehouse", help="the warehouse connection")
    args = parser.parse_args(argv)
    if args.events < 0:
        parser.error("--events must be 0 or more")
    return args


def _table(explicit: str | None) -> str:
    if explicit:
        return explicit
    from include.onboarding.config import VARIABLE, OnboardingSettings

    raw = os.environ.get(f"AIRFLOW_VAR_{VARIABLE.upper()}")
    return OnboardingSettings.from_mapping(json.loads(raw) if raw else None).table


def _dead_alerts(store: Any) -> int:
    """Alerts set aside after too many failed attempts; 0 when no alert was ever owed (no table)."""
    from include.onboarding.warehouse import WarehouseError

    try:
        return store.dead_alerts()
    except WarehouseError:
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from include.onboarding.ops_store import OperationsWarehouse

    statuses = args.status or [s.value for s in NEEDS_HUMAN]
    store = OperationsWarehouse(args.conn_id, _table(args.table))
    try:
        rows = build_report(store, statuses, args.events)
        dead = _dead_alerts(store)
    finally:
        store.dispose()
    if dead:
        print(
            f"{dead} alert(s) could not be delivered and were set aside (outcome 'dead' in "
            f"{store.more_tables()['alerts_table']}): see last_error; set outcome NULL and attempts 0 "
            "to send them again",
            file=sys.stderr,
        )
    text = to_json(rows) if args.format == "json" else to_csv(rows, args.events)
    if args.output:
        write_private(args.output, text)
        print(f"{len(rows)} row(s) in {', '.join(statuses)} written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
