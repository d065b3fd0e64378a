"""The benchmarks at tiny sizes, targets not enforced: proves ``make bench`` still runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.support.postgres import require_postgres

SCENARIO_ROWS = ("| 1 |", "| 2 |", "| 3 |", "| 4 |", "| 5 |", "| 5m |", "| 6 |", "| 6b |", "| 7 |")


@pytest.mark.bench
@pytest.mark.postgres
def test_every_benchmark_runs_at_smoke_size(tmp_path):
    require_postgres()
    output = tmp_path / "RESULTS.md"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-6000:]}"
    report = output.read_text("utf-8")
    for row in SCENARIO_ROWS:
        assert row in report, f"no result row {row} in:\n{report}"
    assert "**MISS**" not in report and "PASS" not in report, "a smoke run must not judge targets"
    assert "cores" in report and "airflow" in report
