"""`make test` runs two pytest-xdist workers with ``--dist loadgroup``: tests that share a deployment,
an Airflow or a folder under var/ must stay on one worker (tests/conftest.py assigns their groups).
The grouping fails silently when it breaks (pytest 9.2 with xdist 3.8, pytest-dev/pytest-xdist#1386:
two browser Airflows in one folder, each deleting the other's database), so it is run here."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import ROOT


def test_tests_of_one_group_run_on_one_worker_under_two_workers():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-v",
            "-p",
            "no:cacheprovider",
            "tests/local/test_stop_signals.py",  # three quick tests of the "airflow" group
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    ran = re.findall(r"^\[(gw\d)\] .*PASSED (\S+)", result.stdout, re.MULTILINE)
    assert len(ran) == 3, result.stdout[-3000:]
    assert {worker for worker, _ in ran} == {ran[0][0]}, ran
    assert all(nodeid.endswith("@airflow") for _, nodeid in ran), ran
