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
