"""The benchmarks at tiny sizes, targets not enforced: proves ``make bench`` still runs end to end.

The deployment scenarios (3 and 4 on one LocalExecutor deployment, 8 on its Celery cluster) and the
in-process ones run as three ``python -m bench --smoke`` processes side by side: a smoke run judges
nothing, so they may share the cores, and the two deployments start and drain at the same time
instead of one after the other.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.support.postgres import require_postgres

# name: (--only, result rows its report must hold)
GROUPS = {
    "scheduler": ("3,4", ("| 3 |", "| 4 |")),
    "celery": ("8", ("| 8 |",)),
    "in-process": ("1,2,5,6,7", ("| 1 |", "| 2 |", "| 5 |", "| 5m |", "| 6 |", "| 6b |", "| 7 |")),
    "drain": ("9", ("| 9 |", "| 9m |")),
}


@pytest.mark.bench
@pytest.mark.postgres
def test_every_benchmark_runs_at_smoke_size(tmp_path):
    require_postgres()
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    processes = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench",
                "--smoke",
                "--only",
                only,
                "--output",
                str(tmp_path / f"{name}.md"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (only, _) in GROUPS.items()
    }
    outputs = {name: process.communicate(timeout=540) for name, process in processes.items()}
    for name, (_, rows) in GROUPS.items():
        stdout, stderr = outputs[name]
        assert processes[name].returncode == 0, f"{name} smoke failed:\n{stdout[-3000:]}\n{stderr[-6000:]}"
        report = (tmp_path / f"{name}.md").read_text("utf-8")
        for row in rows:
            assert row in report, f"no result row {row} in:\n{report}"
        assert "**MISS**" not in report and "PASS" not in report, "a smoke run must not judge targets"
        assert "cores" in report and "airflow" in report
