"""A real Airflow 3 deployment on this machine, for the deployment tests and the benchmarks.

API server, scheduler (LocalExecutor) and dag-processor run as separate processes, each in its own
process group, against a PostgreSQL metadata database; with ``executor="CeleryExecutor"`` a Redis
broker and Celery workers (``workers``) join them, each a process group of its own too. Connections
and variables come from ``AIRFLOW_CONN_*``/``AIRFLOW_VAR_*``. Tests drive it as an operator would: the REST API and the
``airflow`` CLI. :meth:`Deployment.stop` kills every process group, even after a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from tools.local_airflow import WORKER_SETTINGS
from tools.local_cluster import (
    HEALTH_NAMES,
    celery_environment,
    flush_broker,
    shared_secrets,
    worker_arguments,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TERMINAL_STATES = {"success", "failed"}


def components_healthy(api_url: str, components: tuple[str, ...]) -> bool:
    """True when Airflow's health endpoint reports every one of ``components`` healthy."""
    try:
        health = requests.get(f"{api_url}/api/v2/monitor/health", timeout=5).json()
    except (requests.RequestException, ValueError):
        return False
    return all(health.get(c, {}).get("status") == "healthy" for c in components)


def require_redis(server: str = "redis://127.0.0.1:6379") -> str:
    """A Redis database of the caller's own, one of 1-15 at random (a Celery deployment flushes it at
    start); skipped without Redis, except under CI=true where the test must run.
    """
    import pytest
    import redis

    try:
        redis.Redis.from_url(server, socket_timeout=3).ping()
    except redis.RedisError as exc:
        reason = f"Redis is not reachable at {server}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires Redis. {reason}")
        pytest.skip(reason)
    return f"{server}/{random.randint(1, 15)}"


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the test's Celery workers: the worker's Celery name (``w1@host``),
    so the task instances' ``hostname`` tells which worker ran them (both share the machine's name).
    """
    return os.environ["AVEPOINT_WORKER_HOSTNAME"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AirflowRestClient:
    """The public REST API of an Airflow at ``api_url``, for any user (all users are admins here)."""

    api_url: str
    home: Path
    _token: str | None = None
    # Where a person looks when a wait times out, e.g. a log file.
    log_hint = "its logs"

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the public REST API (``/api/v2`` + path) and return its JSON."""
        for _ in range(2):
            if self._token is None:
                self._token = requests.get(f"{self.api_url}/auth/token", timeout=10).json()["access_token"]
            response = requests.request(
                method,
                f"{self.api_url}/api/v2{path}",
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=30,
                **kwargs,
            )
            if response.status_code != 401:
                break
            self._token = None
        response.raise_for_status()
        return response.json() if response.content else None

    def wait_until(self, condition, timeout: float, what: str, interval: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}; see {self.log_hint}")

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        def parsed() -> bool:
            try:
                self.api("GET", f"/dags/{dag_id}")
            except requests.HTTPError:
                return False
            return True

        self.wait_until(parsed, timeout, f"DAG {dag_id} to be parsed")

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        """The run once it is ``success`` or ``failed``."""

        def finished() -> dict | None:
            run = self.run(dag_id, run_id)
            return run if run["state"] in TERMINAL_STATES else None

        return self.wait_until(finished, timeout, f"run {run_id} to finish", interval=2)


@dataclass
class Deployment(AirflowRestClient):
    """One Airflow deployment rooted at ``home`` (AIRFLOW_HOME, logs)."""

    home: Path
    metadata_url: str
    connections: dict[str, dict[str, Any]]
    variables: dict[str, Any] = field(default_factory=dict)
    pools: dict[str, int] = field(default_factory=lambda: {"avepoint_api": 4})
    parallelism: int = 8
    extra_env: dict[str, str] = field(default_factory=dict)
    # The benchmarks point this at a temporary folder holding the DAG file and its no-op twin.
    dags_folder: Path = ROOT / "dags"
    api_port: int = field(default_factory=free_port)
    # Free log server ports, so deployments, `make airflow` and other engineers' tests can run side by side.
    worker_log_port: int = field(default_factory=free_port)
    trigger_log_port: int = field(default_factory=free_port)
    components: tuple[str, ...] = ("api-server", "scheduler", "dag-processor")
    executor: str = "LocalExecutor"
    # CeleryExecutor only: the Redis broker (flushed at start), worker names and task slots per worker.
    broker_url: str | None = None
    workers: tuple[str, ...] = ()
    worker_concurrency: int = 4
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def log_hint(self) -> str:
        return f"{self.home}/logs"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
        env |= {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.trigger_log_port),
            # Runs start only when a test (or backfill) asks: no surprise scheduled run mid-test.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "PYTHONPATH": str(ROOT),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "GX_ANALYTICS_ENABLED": "False",
        }
        env |= WORKER_SETTINGS
        env |= shared_secrets(self.home)
        if self.executor == "CeleryExecutor":
            env |= celery_environment(
                broker_url=str(self.broker_url),
                metadata_url=self.metadata_url,
                concurrency=self.worker_concurrency,
            )
        env |= {f"AIRFLOW_CONN_{cid.upper()}": json.dumps(fields) for cid, fields in self.connections.items()}
        env |= {
            f"AIRFLOW_VAR_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
            for name, value in self.variables.items()
        }
        return env | self.extra_env

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, timeout: float = 240) -> Deployment:
        """Migrate the metadata database, create pools, start the components, wait until healthy."""
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        self.airflow("db", "migrate", timeout=300)
        for name, slots in self.pools.items():
            self.airflow("pools", "set", name, str(slots), f"{name} (test deployment)")
        if self.broker_url:
            flush_broker(self.broker_url)
        for component in self.components:
            self.start_component(component)
        for name in self.workers:
            self.start_worker(name)
        self.wait_until(self._healthy, timeout, "the deployment to become healthy")
        return self

    def start_component(
        self, component: str, *args: str, name: str | None = None, env: dict[str, str] | None = None
    ) -> None:
        """``airflow <component> <args>`` as process ``name`` (default: the component), logging to
        ``logs/<name>.log``; ``env`` adds to the deployment's environment.
        """
        name = name or component
        log = (self.home / "logs" / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [str(BIN / "airflow"), component, *args],
            env=self.env | (env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.home,
        )

    def start_worker(self, name: str) -> None:
        """Celery worker ``name@<host>`` as process ``worker-<name>``, with a log server port of its own
        (two workers on one host cannot share one) and its name as its task instances' hostname.
        """
        self.start_component(
            *worker_arguments(name, self.worker_concurrency),
            name=f"worker-{name}",
            env={
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
                "AVEPOINT_WORKER_HOSTNAME": f"{name}@{socket.gethostname()}",
            },
        )

    def kill(self, name: str) -> None:
        """SIGKILL process ``name``, its group and every descendant, as a machine dying would: Airflow
        starts each task process in a session of its own, so the group alone is not all of it. The
        group is stopped first so that nothing forks between listing the descendants and the kill,
        and every descendant is stopped before any dies, so no task finishes in between.
        """
        import psutil

        process = self.processes[name]
        _kill_group(process, signal.SIGSTOP)
        descendants = psutil.Process(process.pid).children(recursive=True)
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for child in descendants:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.send_signal(sig)
        _kill_group(process, signal.SIGKILL)

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system) every process of the deployment has used so far: each
        component, its live descendants, and the descendants that have exited, which Linux charges to
        the parent that waited for them (a task process to its supervisor, a supervisor to its
        executor or Celery worker). The warehouse server and the sandbox are not the deployment.
        """
        import psutil

        total = 0.0
        for process in self.processes.values():
            try:
                tree = [psutil.Process(process.pid)]
                tree += tree[0].children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            for member in tree:
                with contextlib.suppress(psutil.Error):
                    times = member.cpu_times()
                    total += times.user + times.system + times.children_user + times.children_system
        return total

    def stop(self) -> None:
        """Kill every component's process group (their workers and task processes with them)."""
        for process in self.processes.values():
            _kill_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            _kill_group(process, signal.SIGKILL)
        self.processes.clear()

    def _healthy(self) -> bool:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}; see {self.home}/logs/{name}.log"
                )
        return components_healthy(
            self.api_url, ("metadatabase", *(HEALTH_NAMES[c] for c in self.components if c in HEALTH_NAMES))
        )

    # -- driving it -------------------------------------------------------------------------------

    def airflow(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """Run the ``airflow`` CLI against this deployment."""
        result = subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"airflow {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
            )
        return result

    def unpause(self, dag_id: str, timeout: float = 120) -> None:
        self.wait_for_dag(dag_id, timeout)
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None, logical_date: str | None = None) -> str:
        run = self.api(
            "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": logical_date, "conf": conf or {}}
        )
        return run["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100, "order_by": "run_after"})[
            "dag_runs"
        ]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        return self.api("GET", path, params={"limit": 1000})["task_instances"]

    def set_run_state(self, dag_id: str, run_id: str, state: str) -> None:
        self.api("PATCH", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}", json={"state": state})


def _kill_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
