"""What every benchmark shares: the result row, medians, the machine, a sandbox process, customers.

Every figure the benchmarks judge is a ratio to a baseline measured in the same run on the same
machine, because absolute seconds on a noisy 2-core machine say little.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "bench"
PYTHON = sys.executable
EAST_US = "e44bb3ed-f1d8-4055-8c77-c8fd8cd63409"


def bench_env() -> dict[str, str]:
    """The environment for Airflow processes the benchmarks start: isolated home, no examples.

    Python's default bytecode cache is allowed (``PYTHONDONTWRITEBYTECODE`` dropped), as on a
    deployed scheduler: otherwise every parse would recompile the project's modules from source.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | {
        "AIRFLOW_HOME": str(VAR / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "GX_ANALYTICS_ENABLED": "False",
        "PYTHONPATH": str(ROOT),
    }


@dataclass
class Result:
    """One row of the results table.

    ``project`` and ``baseline`` are medians in ``unit``; ``ratio`` is project / baseline.
    ``passed`` is None when no target applies (smoke runs, or a scenario that only reports).
    """

    number: int | str
    scenario: str
    size: str
    project: float | bool | None
    baseline: float | None
    unit: str
    target: str
    limit: float | None = None
    passed: bool | None = None
    notes: list[str] = field(default_factory=list)
    # Why the target is missed, with the numbers; shown only when it is.
    explanation: str | None = None
    # Instead of PASS/MISS, e.g. "not judged" when the measurements are noisier than the target's margin.
    verdict: str | None = None

    @property
    def ratio(self) -> float | None:
        if isinstance(self.project, bool) or self.project is None or not self.baseline:
            return None
        return self.project / self.baseline

    def judge(self, enforce: bool) -> Result:
        """Set ``passed`` from the ratio and the limit (only when targets are enforced)."""
        if enforce and self.limit is not None and self.ratio is not None:
            self.passed = self.ratio <= self.limit
        return self

    def cells(self) -> list[str]:
        verdict = self.verdict or {True: "PASS", False: "**MISS**", None: "-"}[self.passed]
        return [
            str(self.number),
            self.scenario,
            self.size,
            _value(self.project, self.unit),
            _value(self.baseline, self.unit),
            "-" if self.ratio is None else f"{self.ratio:.2f}x",
            self.target,
            verdict,
        ]


def _value(value: float | bool | None, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "cpu-s":
        return f"{value:.3f} CPU s/customer"
    return f"{value:g} {unit}"


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], unit: str = "s") -> str:
    """All repetitions, for the notes: a reader can see how noisy the median is."""
    scale = 1000.0 if unit == "ms" else 1.0
    return "[" + ", ".join(f"{v * scale:.3g}" for v in values) + f"] {unit}"


def alternate(
    repeat: int,
    project: Callable[[int], float],
    baseline: Callable[[int], float],
    after_each: Callable[[], None] | None = None,
):
    """Run project and baseline in turns (baseline first on even reps) so drift hits both alike.

    ``after_each`` runs after every pair, e.g. to check both results and reset the state.
    """
    ours: list[float] = []
    theirs: list[float] = []
    for rep in range(repeat):
        if rep % 2 == 0:
            theirs.append(baseline(rep))
            ours.append(project(rep))
        else:
            ours.append(project(rep))
            theirs.append(baseline(rep))
        if after_each is not None:
            after_each()
    return ours, theirs


def machine() -> dict[str, str]:
    """Cores, memory, Python, Airflow: what a reader needs to compare two RESULTS.md files."""
    import psutil

    try:
        from importlib.metadata import version

        airflow_version = version("apache-airflow")
        gx_version = version("great-expectations")
    except Exception:  # noqa: BLE001 - a missing version must not stop the report
        airflow_version = gx_version = "unknown"
    pg = "unknown"
    with contextlib.suppress(Exception):
        import psycopg

        from tests.support.postgres import POSTGRES_URL

        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            pg = str(conn.execute("SHOW server_version").fetchone()[0])
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        if match:
            cpu = match.group(1).strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": f"{os.cpu_count()} ({cpu})",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "airflow": airflow_version,
        "great_expectations": gx_version,
        "postgresql": pg,
    }


def postgres_server() -> str:
    """The PostgreSQL server URL the tests use; RuntimeError (not a pytest skip) when unreachable."""
    import psycopg

    from tests.support.postgres import POSTGRES_URL

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {POSTGRES_URL} (set AVEPOINT_TEST_POSTGRES): {exc}"
        ) from None
    return POSTGRES_URL


# -- the AvePoint sandbox as its own process -------------------------------------------------------


@dataclass
class SandboxProcess:
    """The sandbox CLI in a separate process: it never competes with the client for one GIL."""

    url: str
    process: subprocess.Popen

    @property
    def token_url(self) -> str:
        return f"{self.url}/connect/token"

    def control(self):
        from avepoint_sandbox import SandboxControl

        return SandboxControl(self.url)


@contextlib.contextmanager
def sandbox_process(*args: str) -> Iterator[SandboxProcess]:
    """Start ``python -m avepoint_sandbox --port 0``; stop it (its group) afterwards."""
    process = subprocess.Popen(
        [PYTHON, "-m", "avepoint_sandbox", "--port", "0", "--log-level", "WARNING", *args],
        cwd=ROOT,
        env=bench_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"the sandbox exited with {process.wait()} before it listened")
            if line.startswith("SANDBOX_URL="):
                url = line.split("=", 1)[1].strip()
        if url is None:
            raise RuntimeError("the sandbox did not report its URL within 60 s")
        sandbox = SandboxProcess(url=url, process=process)
        sandbox.control().wait_until_up()
        yield sandbox
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def sandbox_connection(sandbox: SandboxProcess, **extra: Any) -> dict[str, Any]:
    """The ``avepoint`` connection (Airflow JSON form) for the sandbox's client-secret app."""
    return {
        "conn_type": "avepoint",
        "host": sandbox.url,
        "login": "sandbox-client",
        "password": "sandbox-secret",
        "extra": {"token_url": sandbox.token_url, "timeout": 30} | extra,
    }


# -- customers ------------------------------------------------------------------------------------


def customer(key: str, *, requested_at: datetime | None = None) -> dict[str, Any]:
    """A valid customer row with its own account and password (as real rows have)."""
    return {
        "customer_key": key,
        "first_name": "Dana",
        "last_name": "Scully",
        "organization_name": f"Org {key}",
        "registration_account": f"{key.lower()}@bench.example",
        "country_code": "US",
        "telephone_number": "+1 202 555 0143",
        "data_center": EAST_US,
        "password": f"Bench-{key}-Pw!9",
        "tags": ["bench"],
        "management_mode": True,
        "requested_at": requested_at or datetime.now(UTC),
    }
