"""``make load CSV=path``: load customers from a CSV file into the warehouse table as ``pending``.

The file has a header row with the table's input columns (``customer_key``, ``first_name``,
``last_name``, ``organization_name``, ``registration_account``, ``country_code``,
``telephone_number``, ``data_center``, ``password``, ``tags``, ``management_mode``, and optionally
``requested_at``); ``docs/sample-customers.csv`` is an example. Every row is checked first with the
onboarding DAG's own validation rules, so a mistake is named now, per line, instead of an hour later
as an ``invalid`` row: rows with a problem are not loaded, the others are. A key already in the table
is left as it is, so running the same file again after fixing it loads just the fixed rows.

The warehouse is the ``customer_warehouse`` connection and the table the ``avepoint_onboarding``
Variable's (``airflow_settings.yaml`` fills in what the environment does not set), as for a run. The
table is created when missing. Nothing printed ever holds a password; the file does, so delete it
once it is loaded.

Exit status: 0 when every row loaded (or was already there), 1 when a row has a problem, 2 when the
file itself cannot be read (unknown or missing columns).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COLUMNS = (
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
OPTIONAL_COLUMNS = ("telephone_number", "tags", "management_mode", "requested_at")
BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class FileProblem(Exception):
    """The file as a whole cannot be loaded (its header): nothing is loaded."""


def read_rows(path: Path) -> list[tuple[int, dict[str, Any], list[str]]]:
    """Each data row as ``(line number, values as the table takes them, problems found parsing it)``."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in header and c not in OPTIONAL_COLUMNS]
        unknown = [c for c in header if c not in COLUMNS and c != "requested_at"]
        if missing or unknown:
            raise FileProblem(
                f"{path}: the header must name the columns {', '.join(COLUMNS)} (and optionally "
                f"requested_at); missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'}"
            )
        reader.fieldnames = header
        rows = []
        for record in reader:
            values, problems = parse_row(record)
            rows.append((reader.line_num, values, problems))
    return rows


def parse_row(record: dict[str, str | None]) -> tuple[dict[str, Any], list[str]]:
    """One CSV record as the table's values (empty optional cells are NULL) and what cannot be read."""
    problems: list[str] = []
    values: dict[str, Any] = {c: record.get(c) for c in COLUMNS}
    for column in ("telephone_number", "tags", "management_mode", "password"):
        if values[column] is not None and not values[column].strip():
            values[column] = None
    mode = values["management_mode"]
    if mode is not None:
        values["management_mode"] = BOOLEANS.get(mode.strip().lower())
        if values["management_mode"] is None:
            problems.append("management_mode must be true or false (or empty)")
    tags = values["tags"]
    if tags is not None and not tags.lstrip().startswith("["):
        values["tags"] = [t.strip() for t in tags.split(";") if t.strip()]  # vip;eu
    when = (record.get("requested_at") or "").strip()
    if when:
        try:
            parsed = datetime.fromisoformat(when.replace("Z", "+00:00"))
            values["requested_at"] = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            problems.append("requested_at is not an ISO-8601 date and time (e.g. 2026-11-27 08:00:00+00:00)")
    if not (values["customer_key"] or "").strip():
        problems.append("customer_key is missing")
    return values, problems


def rule_problems(rows: list[dict[str, Any]], store: Any, data_center_family: str) -> dict[str, list[str]]:
    """The onboarding DAG's validation rules over the rows, by key (passwords seen as lengths only)."""
    from include.onboarding.validation import validate_rows

    profiles = {}
    checked = []
    for row in rows:
        password = row["password"]
        profiles[row["customer_key"]] = {
            "password_missing": password is None,
            "password_length": None if password is None else len(password),
            "password_trimmed_length": None if password is None else len(password.strip()),
        }
        tags = row["tags"]
        checked.append({c: row[c] for c in COLUMNS if c != "password"} | {"tags": _tags_text(tags)})
    accounts: set[str] = set()
    for chunk in _chunks([str(r["registration_account"] or "") for r in rows]):
        accounts |= store.onboarded_accounts(chunk)
    return validate_rows(
        checked, profiles, data_center_family=data_center_family, onboarded_accounts=accounts
    )


def _chunks(values: list[str], size: int = 1000) -> list[list[str]]:
    """Lists small enough for one ``IN`` (SQLite allows 32,766 bound values per statement)."""
    return [values[i : i + size] for i in range(0, len(values), size)]


def _tags_text(tags: Any) -> Any:
    return json.dumps(tags) if isinstance(tags, list) else tags


def data_center_family() -> str:
    """The cloud of the ``avepoint_default`` connection (commercial when it is not defined)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from avepoint_provider.settings import AvePointSettings
    from include.onboarding.config import AVEPOINT_CONN_ID

    try:
        conn = BaseHook.get_connection(AVEPOINT_CONN_ID)
    except AirflowNotFoundException:
        return "commercial"
    return AvePointSettings.from_connection(conn).environment.data_center_family


def load(path: Path, *, dry_run: bool = False) -> int:
    from include.onboarding.config import WAREHOUSE_CONN_ID, OnboardingSettings
    from include.onboarding.warehouse import CustomerWarehouse

    try:
        parsed = read_rows(path)
    except FileProblem as exc:
        print(exc, file=sys.stderr)
        return 2
    store = CustomerWarehouse.from_settings(OnboardingSettings.load(), WAREHOUSE_CONN_ID)
    store.prepare()
    problems: dict[int, list[str]] = {line: list(found) for line, _, found in parsed}
    lines_by_key: dict[str, list[int]] = {}
    for line, values, _ in parsed:
        if values["customer_key"]:
            lines_by_key.setdefault(values["customer_key"], []).append(line)
    for lines in lines_by_key.values():
        if len(lines) > 1:
            for line in lines:
                problems[line].append(f"customer_key appears on lines {', '.join(map(str, lines))}")
    readable = [(line, values) for line, values, _ in parsed if not problems[line]]
    broken = rule_problems([values for _, values in readable], store, data_center_family())
    for line, values in readable:
        problems[line] += broken.get(values["customer_key"], [])

    good = [values for line, values, _ in parsed if not problems[line]]
    existing = {
        str(r["customer_key"])
        for chunk in _chunks([v["customer_key"] for v in good])
        for r in store.rows(chunk)
    }
    new = [v for v in good if v["customer_key"] not in existing]
    added = 0 if dry_run else store.add_customers(new)
    store.dispose()

    for line, values, _ in parsed:
        if problems[line]:
            key = values["customer_key"] or "(no key)"
            print(f"line {line} ({key}): not loaded: {'; '.join(dict.fromkeys(problems[line]))}")
    for key in sorted(existing):
        print(f"{key}: already in the table, left as it is")
    verb = "would load" if dry_run else "loaded"
    failed = sum(1 for lines in problems.values() if lines)
    print(
        f"{path}: {len(parsed)} row(s); {verb} {len(new) if dry_run else added} as pending into {store.table}; "
        f"{len(existing)} already there; {failed} with problems"
    )
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    from tools.airflow_settings import environment
    from tools.airflow_settings import load as load_settings

    parser = argparse.ArgumentParser(prog="make load CSV=path", description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="the CSV file (see docs/sample-customers.csv)")
    parser.add_argument("--dry-run", action="store_true", help="check every row, load nothing")
    args = parser.parse_args(argv)
    if not args.csv.is_file():
        print(f"{args.csv}: no such file", file=sys.stderr)
        return 2
    for name, value in environment(load_settings()).items():
        os.environ.setdefault(name, value)
    # The per-row lines are the output: Great Expectations' and the pipeline's own logging is noise here.
    for noisy in ("great_expectations", "include"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return load(args.csv, dry_run=args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
