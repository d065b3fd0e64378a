"""``make cluster``: this project on a local Airflow cluster with the CeleryExecutor.

``make airflow`` runs everything in one ``airflow standalone``; this runs the pieces of a
production deployment as separate processes, each in its own process group: the API server
(UI at http://127.0.0.1:8080, every local user an admin), scheduler, dag-processor, triggerer
and two Celery workers (``w1@<host>``, ``w2@<host>``). The metadata database is PostgreSQL
(database ``avepoint_cluster``, created if missing), the broker Redis (its database is flushed
at start: it belongs to the cluster), Celery's results go to the metadata database. The sandbox,
``airflow_settings.yaml`` and the demo customers are set up as for ``make airflow``.
Ctrl-C, SIGTERM or SIGHUP stops every process it started.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tools.airflow_settings import ROOT
from tools.local_airflow import (
    BIN,
    airflow_environment,
    argument_parser,
    interrupt_on_stop_signals,
    local_settings,
    prepare,
    start_sandbox,
    stop_process_group,
)

POSTGRES = os.environ.get("AVEPOINT_CLUSTER_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "avepoint_cluster"
BROKER = os.environ.get("AVEPOINT_CLUSTER_BROKER", "redis://127.0.0.1:6379/0")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
WORKERS = ("w1", "w2")
# What Airflow's health endpoint calls each component that reports there.
HEALTH_NAMES = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def celery_environment(*, broker_url: str, metadata_url: str, concurrency: int) -> dict[str, str]:
    """What every component of a CeleryExecutor cluster needs beside the usual settings.

    ``metadata_url`` is the SQLAlchemy URL of the metadata database: Celery keeps its task results
    there too (``db+`` selects Celery's database backend), so there is no second store to run.
    """
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata_url}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
    }


def shared_secrets(home: Path) -> dict[str, str]:
    """The JWT secret and API secret key, kept in ``home`` so every component gets the same ones:
    each process would otherwise make up its own, and tasks fail with "Invalid auth token".
    """
    values = {}
    for variable, file_name in (
        ("AIRFLOW__API_AUTH__JWT_SECRET", ".jwt_secret"),
        ("AIRFLOW__API__SECRET_KEY", ".api_secret_key"),
    ):
        path = home / file_name
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        values[variable] = path.read_text()
    return values


def worker_arguments(name: str, concurrency: int) -> list[str]:
    """``airflow celery worker`` arguments for worker ``name@<host>``."""
    return ["celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", str(concurrency)]


def flush_broker(broker_url: str) -> None:
    """Empty the broker's Redis database: messages of an earlier cluster must not run as tasks here."""
    import redis

    with redis.Redis.from_url(broker_url, socket_timeout=5) as client:
        client.flushdb()


def ensure_database(server_url: str, name: str) -> str:
    """Create PostgreSQL database ``name`` on ``server_url`` if missing; return its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"Created PostgreSQL database {name}")
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def cluster_environment(
    *, api_port: int, home: Path, metadata_url: str, broker_url: str, concurrency: int
) -> dict[str, str]:
    """The environment every component of the cluster shares."""
    sqlalchemy_url = metadata_url.replace("postgresql://", "postgresql+psycopg://", 1)
    env = airflow_environment(api_port, home)
    env |= shared_secrets(home)
    env |= celery_environment(broker_url=broker_url, metadata_url=sqlalchemy_url, concurrency=concurrency)
    env |= {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        # One log server port per process that serves logs; free ones, so a `make airflow` can run beside.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }
    return env


class Cluster:
    """The cluster's processes, each in its own process group, logging to ``home/logs/<name>.log``."""

    def __init__(self, env: dict[str, str], home: Path) -> None:
        self.env = env
        self.logs = home / "logs"
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [str(BIN / "airflow"), *args],
                env=self.env | (env or {}),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def exited(self) -> str | None:
        """The name of a process that has exited, if any."""
        return next((name for name, p in self.processes.items() if p.poll() is not None), None)

    def healthy(self, api_url: str) -> bool:
        import requests

        try:
            health = requests.get(f"{api_url}/api/v2/monitor/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            return False
        names = ["metadatabase"] + [HEALTH_NAMES[c] for c in self.processes if c in HEALTH_NAMES]
        return all(health.get(n, {}).get("status") == "healthy" for n in names)

    def stop(self) -> None:
        # SIGTERM to every group first, so they shut down side by side rather than one after another.
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            stop_process_group(process, timeout=30)
        self.processes.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL server URL (any database on it)")
    parser.add_argument("--database", default=DATABASE, help="metadata database, created if missing")
    parser.add_argument("--broker", default=BROKER, help="Redis URL of a database the cluster owns")
    parser.add_argument("--concurrency", type=int, default=4, help="task slots per worker")
    args = parser.parse_args(argv)
    interrupt_on_stop_signals()
    state = args.state_dir or ROOT / "var"
    home = state / "cluster"
    home.mkdir(parents=True, exist_ok=True)
    api_url = f"http://127.0.0.1:{args.api_port}"
    sandbox = None
    cluster: Cluster | None = None
    try:
        sandbox = start_sandbox(args.sandbox_port, state / "sandbox-state.json")
        metadata_url = ensure_database(args.postgres, args.database)
        flush_broker(args.broker)
        env = cluster_environment(
            api_port=args.api_port,
            home=home,
            metadata_url=metadata_url,
            broker_url=args.broker,
            concurrency=args.concurrency,
        )
        # Connections and variables come from the metadata database, as in a real deployment.
        env = {k: v for k, v in env.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
        warehouse = args.state_dir / "warehouse.db" if args.state_dir else None
        prepare(local_settings(args.sandbox_port, args.api_port, warehouse), env)
        cluster = Cluster(env, home)
        for component in COMPONENTS:
            cluster.start(component, [component])
        for name in WORKERS:
            cluster.start(
                f"worker-{name}",
                worker_arguments(name, args.concurrency),
                # Two workers on one host cannot share a log server port.
                {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())},
            )
        print(f"Starting {', '.join(cluster.processes)}; logs in {cluster.logs}", flush=True)
        announced = False
        while (name := cluster.exited()) is None:
            if not announced and cluster.healthy(api_url):
                print(
                    f"Airflow UI: {api_url} (no login). Ctrl-C (or SIGTERM/SIGHUP) stops the cluster.",
                    flush=True,
                )
                announced = True
            time.sleep(2)
        print(f"{name} exited; see {cluster.logs / name}.log. Stopping the cluster.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if cluster is not None:
            cluster.stop()
        if sandbox is not None:
            stop_process_group(sandbox, timeout=10)


if __name__ == "__main__":
    sys.exit(main())
