"""Start ``make airflow``/``make cluster``'s module as a user would, stop it with a signal, and find
what it left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.support.deployment import ROOT, components_healthy


def start(module: str, args: list[str], env: dict[str, str], output: Path) -> subprocess.Popen:
    """``python -m module args`` in a session of its own, as a terminal would run ``make``'s command."""
    with output.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_healthy(process: subprocess.Popen, api_url: str, components: tuple[str, ...], output: Path) -> None:
    deadline = time.monotonic() + 300
    while not components_healthy(api_url, components):
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"not healthy (exit {process.poll()}):\n{output.read_text()[-3000:]}")
        time.sleep(2)


def send(process: subprocess.Popen, how: str) -> None:
    """``kill PID`` (SIGTERM), or a closed terminal: SIGHUP to the whole foreground process group."""
    if how == "SIGTERM":
        os.kill(process.pid, signal.SIGTERM)
    else:
        os.killpg(process.pid, signal.SIGHUP)


def descendants(process: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(process.pid).children(recursive=True)


def in_its_group(process: subprocess.Popen) -> list[psutil.Process]:
    """Descendants of ``process`` in its process group: a SIGHUP to the group reaches them too, where a
    SIGTERM to ``process`` reaches it alone.
    """
    members = []
    for p in descendants(process):
        try:
            if os.getpgid(p.pid) == process.pid:
                members.append(p)
        except ProcessLookupError:
            continue
    return members


def leftovers(started: list[psutil.Process], marker: str) -> list[psutil.Process]:
    """Processes still alive among ``started``, or anywhere with ``marker`` in their environment
    (the run's unique AIRFLOW_HOME catches processes started after the snapshot).
    """
    alive = {p.pid: p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE}
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and any(marker in value for value in p.environ().values()):
                alive[p.pid] = p
        except psutil.Error:
            continue
    return list(alive.values())


def describe(processes: list[psutil.Process]) -> list[str]:
    described = []
    for p in processes:
        try:
            described.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.Error:
            continue
    return described


def kill(processes: list[psutil.Process]) -> None:
    """Clean up after a failed test, so later tests do not find its ports taken."""
    for p in processes:
        try:
            p.kill()
        except psutil.Error:
            continue


def port_free(port: int) -> bool:
    return not any(
        c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
        for c in psutil.net_connections("tcp")
    )
