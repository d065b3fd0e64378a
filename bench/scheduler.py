"""Scenarios 3, 4 and 8: draining a backlog through a real scheduler, against a no-op twin.

One deployment (``tests.support.deployment``: API server, scheduler with LocalExecutor and
dag-processor, PostgreSQL metadata) parses a temporary DAG folder holding the real DAG file and
its no-op twin (``bench.twin``), so both DAGs run on the same scheduler, executor, pool and
machine. The real DAG onboards freshly loaded customers from a PostgreSQL warehouse through the
sandbox (its own process); the twin maps the same number of tasks through the same pool and does
nothing. Each run is measured twice: its wall time, the API's ``end_date - queued_at`` (trigger to
finished, server clock, so the polling interval does not blur it), and the CPU seconds every
process of the deployment spent meanwhile (``Deployment.cpu_seconds``: components, executors,
workers and task processes; not the warehouse server or the sandbox), per customer. On a shared
2-core machine wall time moves with whatever else runs; CPU time much less. Each repetition runs
both DAGs, alternating who goes first; the first run of each DAG (a few customers) is an untimed
warm-up. A target is judged on wall time when its repetitions spread less than the margin the
target leaves, else on CPU when those do; when neither does, the row says so instead of a verdict. Scenario 8 is scenario 3
on a CeleryExecutor cluster instead (the same deployment with a Redis broker, a triggerer and two
Celery workers of 4 slots each), in a deployment of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    VAR,
    Result,
    customer,
    median,
    postgres_server,
    sandbox_connection,
    sandbox_process,
    spread,
)
from bench.twin import REAL_DAG_ID, TWIN_DAG_ID, write_dags_folder

POOL = "avepoint_api"
TERMINAL_STATES = ("success", "failed")
STARTING_POOL = 4
DRAIN_TARGET = 1.25
CELERY = 8
# Scenario 8's cluster: a random Redis database of 1-15 (flushed at start) keeps it apart from others'.
CELERY_DEPLOYMENT = {
    "executor": "CeleryExecutor",
    "components": ("api-server", "scheduler", "dag-processor", "triggerer"),
    "workers": ("w1", "w2"),
    "worker_concurrency": 4,
}
LATENCY_TARGET = 1.15


@dataclass
class Drain:
    """What one scenario needs: pool size, sandbox latency, each repetition's wall seconds and the
    deployment's CPU seconds per customer, and the runs.
    """

    pool: int
    latency_ms: float
    project: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    project_cpu: list[float] = field(default_factory=list)
    baseline_cpu: list[float] = field(default_factory=list)
    runs: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Measure:
    """One way of measuring a scenario: project and baseline, one value per repetition."""

    name: str
    unit: str
    project: list[float]
    baseline: list[float]

    @property
    def noise(self) -> float:
        """The larger relative spread, (max - min) / median, of the project's and the baseline's
        repetitions: a ratio moved by less than this may be noise.
        """
        return max(relative_spread(self.project), relative_spread(self.baseline))

    def describe(self) -> str:
        ratio = median(self.project) / median(self.baseline)
        return (
            f"{self.name}: project {spread(self.project, self.unit)}, baseline {spread(self.baseline, self.unit)}, "
            f"ratio {ratio:.2f}x, spread {self.noise:.0%}"
        )


def relative_spread(values: list[float]) -> float:
    return (max(values) - min(values)) / median(values) if median(values) else 0.0


def judged_measure(measures: list[Measure], limit: float) -> Measure | None:
    """The measure a target of ``limit`` (e.g. 1.25x) is judged on: the first of ``measures`` (in
    order of preference) whose spread is smaller than the margin the target tests (0.25); None when
    every one is noisier.
    """
    return next((m for m in measures if m.noise < limit - 1), None)


def _seconds(run: dict[str, Any]) -> float:
    queued = datetime.fromisoformat(run["queued_at"].replace("Z", "+00:00"))
    ended = datetime.fromisoformat(run["end_date"].replace("Z", "+00:00"))
    return (ended - queued).total_seconds()


def _execute_span(log: Path) -> float | None:
    """Seconds from the end of a task's pre-execute group to the start of its post-execute group."""
    pre_end = post = None
    for line in log.read_text("utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        event = str(record.get("event", ""))
        if event == "::endgroup::" and pre_end is None:
            pre_end = record["timestamp"]
        elif event.startswith("::group::Post Execute"):
            post = record["timestamp"]
    if pre_end is None or post is None:
        return None
    return _seconds({"queued_at": pre_end, "end_date": post})


def _task_import_ms(repeat: int = 3) -> float:
    """Milliseconds a fresh task process spends importing the hook and the Postgres hook (median)."""
    import subprocess

    from bench.common import PYTHON, ROOT, bench_env

    probe = (
        "import time, airflow.sdk\n"
        "from airflow.sdk.execution_time import supervisor, task_runner\n"
        "start = time.process_time()\n"
        "import avepoint_provider.hooks.avepoint, include.onboarding.warehouse\n"
        "import airflow.providers.postgres.hooks.postgres\n"
        "print('IMPORT_MS=%.1f' % ((time.process_time() - start) * 1000))\n"
    )
    values = []
    for _ in range(repeat):
        out = subprocess.run(
            [PYTHON, "-c", probe], cwd=ROOT, env=bench_env(), capture_output=True, text=True, check=True
        ).stdout
        values += [float(line.split("=", 1)[1]) for line in out.splitlines() if line.startswith("IMPORT_MS=")]
    return median(values)


class _Bench:
    """The deployment, the warehouse and the sandbox control, and how to time one run of a DAG."""

    def __init__(self, airflow: Any, store: Any, control: Any) -> None:
        self.airflow = airflow
        self.store = store
        self.control = control
        self.batch = 0
        self.pool = STARTING_POOL

    def run_dag(
        self, dag_id: str, customers: int, timeout: float, runs: list[str] | None = None
    ) -> tuple[float, float]:
        """Run ``dag_id`` over ``customers`` rows: its wall seconds, and the deployment's CPU seconds
        per customer while it ran.
        """
        keys: list[str] = []
        if dag_id == REAL_DAG_ID:
            self.batch += 1
            # Requested a minute ago: before the end of the manual run's window.
            when = datetime.now(UTC) - timedelta(minutes=1)
            rows = [customer(f"B{self.batch:02d}-{i:04d}", requested_at=when) for i in range(customers)]
            self.store.add_customers(rows)
            keys = [r["customer_key"] for r in rows]
        cpu_before = self.airflow.cpu_seconds()
        run_id = self.airflow.trigger(dag_id, conf={"max_customers": customers})
        if runs is not None:
            runs.append(run_id)
        # Small runs are polled often so a smoke run does not idle, big ones gently so the polling
        # does not load the API server; the timing itself comes from the API's timestamps.
        state = self.airflow.wait_until(
            lambda: self._finished(dag_id, run_id),
            timeout,
            f"run {run_id} to finish",
            interval=0.5 if customers < 20 else 2.0,
        )
        cpu = (self.airflow.cpu_seconds() - cpu_before) / max(customers, 1)
        if state != "success":
            raise RuntimeError(f"{dag_id} run {run_id} ended {state}; see {self.airflow.home}/logs")
        if keys:
            statuses = {str(r["status"]) for r in self.store.rows(keys)}
            if statuses != {"onboarded"}:
                raise RuntimeError(f"{dag_id} run {run_id} left rows in {sorted(statuses)}")
        return _seconds(self.airflow.run(dag_id, run_id)), cpu

    def _finished(self, dag_id: str, run_id: str) -> str | None:
        state = self.airflow.run(dag_id, run_id)["state"]
        return state if state in TERMINAL_STATES else None

    def drain(self, *, pool: int, latency_ms: float, customers: int, repeat: int) -> Drain:
        if pool != self.pool:
            self.airflow.airflow("pools", "set", POOL, str(pool), "avepoint_api (benchmark)")
            self.pool = pool
        self.control.set_faults(latency_ms=latency_ms)
        timeout = 120 + customers * (2 + latency_ms / 1000)
        result = Drain(pool, latency_ms)
        for rep in range(repeat):
            order = [
                (TWIN_DAG_ID, result.baseline, result.baseline_cpu),
                (REAL_DAG_ID, result.project, result.project_cpu),
            ]
            for dag_id, times, cpus in order if rep % 2 == 0 else order[::-1]:
                wall, cpu = self.run_dag(dag_id, customers, timeout, result.runs.setdefault(dag_id, []))
                times.append(wall)
                cpus.append(cpu)
        return result

    def execute_ms(self, dag_id: str, run_ids: list[str], task_id: str = "onboard_customer") -> float | None:
        """Median time a task (each mapped instance) spends in ``execute``, between Airflow's pre- and
        post-execute, read from the task logs: what the project adds per task (the twin's is ~0).
        """
        spans: list[float] = []
        for run_id in run_ids:
            folder = (
                self.airflow.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
            )
            for log in folder.rglob("attempt=1.log"):
                span = _execute_span(log)
                if span is not None:
                    spans.append(span)
        return median(spans) * 1000 if spans else None


def run(
    *,
    customers: int,
    repeat: int,
    enforce: bool,
    warmup: int = 3,
    scenarios: frozenset[int] = frozenset({3, 4}),
) -> list[Result]:
    """Scenarios 3 (pool 4, 0 ms) and 4 (pool 8, 250 ms) in one deployment; ``scenarios`` picks.
    Scenario 8 (pool 4, 0 ms on the Celery cluster) needs a deployment of its own: ask for it alone.
    """
    import random

    from include.onboarding.warehouse import CustomerWarehouse
    from tests.support.deployment import Deployment
    from tests.support.postgres import fresh_postgres_database, postgres_connection

    celery = CELERY in scenarios
    if celery and len(scenarios) > 1:
        raise ValueError("scenario 8 runs on a deployment of its own; ask for it alone")
    deployment = CELERY_DEPLOYMENT | {"broker_url": f"redis://127.0.0.1:6379/{random.randint(1, 15)}"}
    server = postgres_server()
    home = VAR / ("deployment-celery" if celery else "deployment")
    dags = VAR / f"{home.name}-dags"  # its own: the smoke test runs both deployments at once
    for folder in (home, dags):
        shutil.rmtree(folder, ignore_errors=True)
    home.mkdir(parents=True)
    write_dags_folder(dags)
    started = time.monotonic()
    with (
        sandbox_process() as sandbox,
        fresh_postgres_database(server) as metadata,
        fresh_postgres_database(server) as warehouse_url,
    ):
        warehouse_conn = postgres_connection(warehouse_url)
        airflow = Deployment(
            home=home,
            metadata_url=metadata.replace("postgresql://", "postgresql+psycopg://", 1),
            connections={
                "avepoint_default": sandbox_connection(sandbox),
                "customer_warehouse": warehouse_conn,
            },
            pools={POOL: STARTING_POOL},
            parallelism=8,
            dags_folder=dags,
            # An empty PYTHONDONTWRITEBYTECODE lets Python cache bytecode, as on a real scheduler.
            extra_env={"AVEPOINT_ONBOARDING_RETRY_DELAY_SECONDS": "5", "PYTHONDONTWRITEBYTECODE": ""},
            **(deployment if celery else {}),
        )
        airflow.connections["airflow_api"] = {"conn_type": "http", "host": airflow.api_url}
        os.environ["AIRFLOW_CONN_CUSTOMER_WAREHOUSE"] = json.dumps(warehouse_conn)
        try:
            store = CustomerWarehouse("customer_warehouse")
            store.prepare()
            airflow.start()
            for dag_id in (REAL_DAG_ID, TWIN_DAG_ID):
                airflow.unpause(dag_id)
            bench = _Bench(airflow, store, sandbox.control())
            setup = time.monotonic() - started
            for dag_id in (TWIN_DAG_ID, REAL_DAG_ID) if warmup else ():
                bench.run_dag(dag_id, warmup, timeout=300)
            drains = {
                number: bench.drain(pool=pool, latency_ms=latency, customers=customers, repeat=repeat)
                for number, pool, latency in ((3, 4, 0), (4, 8, 250), (CELERY, 4, 0))
                if number in scenarios
            }
            per_task = {
                number: {dag_id: bench.execute_ms(dag_id, runs) for dag_id, runs in drain.runs.items()}
                for number, drain in drains.items()
            }
            validation_ms = {
                number: bench.execute_ms(REAL_DAG_ID, drain.runs.get(REAL_DAG_ID, []), "validate_customers")
                for number, drain in drains.items()
            }
            duplicates = bench.control.inspect()["posts_after_creation"]
        finally:
            airflow.stop()
            os.environ.pop("AIRFLOW_CONN_CUSTOMER_WAREHOUSE", None)
    if duplicates:
        raise RuntimeError(f"the sandbox saw customers created twice: {duplicates}")
    common = f"deployment start-up {setup:.0f} s and warm-up runs not counted"
    return [
        drain_result(
            number, drain, customers, enforce, per_task[number], validation_ms[number], drains, common
        )
        for number, drain in drains.items()
    ]


def drain_result(
    number: int,
    drain: Drain,
    customers: int,
    enforce: bool,
    per_task: dict[str, float | None],
    validation_ms: float | None,
    drains: dict[int, Drain],
    common: str,
) -> Result:
    """Scenario ``number``'s row: judged on wall time or on CPU, whichever is quiet enough."""
    execute = per_task.get(REAL_DAG_ID)
    notes = [f"{len(drain.project)} repetitions, alternating; {common}"]
    cpu = Measure("deployment CPU per customer", "cpu-s", drain.project_cpu, drain.baseline_cpu)
    if number in (3, CELERY):
        limit = DRAIN_TARGET
        wall = Measure("wall time", "s", drain.project, drain.baseline)
        executor = (
            "CeleryExecutor, 2 workers x 4 slots, Redis broker" if number == CELERY else "LocalExecutor"
        )
        scenario = (
            f"backlog through the real scheduler ({executor}, PostgreSQL metadata), pool 4, sandbox 0 ms"
        )
    else:
        limit = LATENCY_TARGET
        # Perfectly overlapped, the latency adds customers x 0.25 s / 8 slots of wall time, and no CPU.
        floor = customers * 0.25 / 8
        wall = Measure("wall time", "s", drain.project, [t + floor for t in drain.baseline])
        scenario = "the same, sandbox at 250 ms latency, pool 8"
        notes.append(
            f"wall baseline = no-op twin with pool 8 (median {median(drain.baseline):.1f} s) + {customers} x 0.25 s / 8 "
            f"= {floor:.2f} s; CPU baseline = the twin's (waiting on AvePoint costs no CPU)"
        )
        if 3 in drains:
            notes.append(
                f"the twin takes {median(drains[3].baseline):.1f} s with pool 4 and {median(drain.baseline):.1f} s "
                "with pool 8: at pool 8 Airflow's own per-task work keeps both cores busy"
            )
    notes += [wall.describe(), cpu.describe()]
    # The targets were set in wall time: it is judged on whenever it is quiet enough.
    judged = judged_measure([wall, cpu], limit)
    shown = judged or wall
    result = Result(
        number,
        scenario,
        f"{customers} customers",
        median(shown.project),
        median(shown.baseline),
        shown.unit,
        f"<= {limit}x",
        limit=limit,
        notes=notes,
    )
    if enforce and judged is None:
        result.verdict = "not judged"
        result.notes.append(
            f"not judged: wall time spread {wall.noise:.0%} and CPU spread {cpu.noise:.0%} between repetitions, "
            f"both more than the {limit - 1:.0%} margin the target tests"
        )
        return result
    if enforce:
        result.notes.append(f"judged on {shown.name} (spread {shown.noise:.0%} < margin {limit - 1:.0%})")
    if execute is not None:
        result.notes.append(
            f"a real onboarding task spends {execute:.0f} ms (median) in `execute` (imports of the PostgreSQL "
            "driver, common-sql and requests, three warehouse transactions, token and POST); the twin's spends "
            f"{per_task.get(TWIN_DAG_ID) or 0:.0f} ms"
        )
    result.judge(enforce)
    if number == 4 and result.passed is False and execute is not None:
        imports = _task_import_ms()
        result.explanation = (
            f"the project's {shown.name} is {result.ratio:.2f}x the baseline's. A task holds its pool slot "
            f"through `execute`: {execute:.0f} ms (median), 250 ms of it waiting for the sandbox, the rest the "
            "work exactly-once needs (the attempt written before sending, the outcome before succeeding), a "
            "token and the POST, and what a task still imports once the worker has pre-imported the drivers "
            f"({imports:.0f} ms of CPU in a fresh process). Once per run, validating with Great Expectations "
            f"({(validation_ms or 0) / 1000:.1f} s, import included) sits on the critical path, where the twin "
            "validates nothing"
        )
    return result
