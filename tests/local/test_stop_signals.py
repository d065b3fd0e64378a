"""Ctrl-C, SIGTERM and SIGHUP stop ``make airflow`` and ``make cluster`` alike.

Both modules turn the three signals into KeyboardInterrupt (``interrupt_on_stop_signals``) and stop
the process groups they started in ``finally`` (``stop_process_group``). This checks each signal on
a light process tree built the same way: a module that waits on a child in a session of its own.
The full runs (``test_local_airflow.py``: SIGTERM, ``test_local_cluster.py``: SIGHUP) check that
every process of the real trees goes, and that no descendant shares the module's process group, so
SIGHUP to the group reaches the module alone, as SIGTERM does.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

from tests.support import local_run
from tests.support.deployment import ROOT

MODULE = textwrap.dedent(
    """
    import subprocess, sys
    from tools.local_airflow import interrupt_on_stop_signals, stop_process_group

    interrupt_on_stop_signals()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:
        print(child.pid, flush=True)
        sys.exit(child.wait())
    except KeyboardInterrupt:
        sys.exit(0)
    finally:
        stop_process_group(child, timeout=10)
    """
)


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_stop_signal_stops_the_module_and_the_process_groups_it_started(how):
    module = subprocess.Popen(
        [sys.executable, "-c", MODULE], cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    child = None
    try:
        child = psutil.Process(int(module.stdout.readline()))
        assert child.is_running() and local_run.in_its_group(module) == []
        if how == "SIGINT":
            module.send_signal(signal.SIGINT)  # Ctrl-C
        else:
            local_run.send(module, how)
        assert module.wait(timeout=30) == 0
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    finally:
        if module.poll() is None:
            module.kill()
        if child is not None:
            local_run.kill([child])
