"""``make airflow``: a local Airflow (``airflow standalone``) for clicking through the UI.

It starts the AvePoint sandbox (unless one already listens on the port), prepares the
metadata database, loads ``airflow_settings.yaml`` (connections, pools, variables),
creates the warehouse tables with the demo customers as pending rows, then runs
``airflow standalone`` at http://127.0.0.1:8080 with every local user an admin. Ctrl-C,
SIGTERM or SIGHUP (a closed terminal) stops Airflow and the sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tools.airflow_settings import ROOT, AirflowSettings, environment, load, load_into_airflow

BIN = Path(sys.executable).parent


def local_settings(sandbox_port: int, api_port: int, warehouse: Path | None = None) -> AirflowSettings:
    """``airflow_settings.yaml`` with the sandbox and API server ports of this run.

    ``warehouse`` replaces the embedded SQLite warehouse file (the tests use their own).
    """
    settings = load()
    api = settings.connections["avepoint_default"]
    api["host"] = f"http://127.0.0.1:{sandbox_port}"
    api["extra"] = api.get("extra", {}) | {"token_url": f"http://127.0.0.1:{sandbox_port}/connect/token"}
    settings.connections["airflow_api"]["host"] = f"http://127.0.0.1:{api_port}"
    if warehouse is not None:
        settings.connections["customer_warehouse"]["host"] = str(warehouse)
    return settings


# Airflow settings every deployment of this project should have (the Dockerfile sets them too, and
# docs/DEPLOY.md says how elsewhere). Airflow 3.3's task supervisor, once the task process has closed
# its sockets but before the kernel has reaped it, waits in `select` on no sockets for up to
# `min_heartbeat_interval` (default 5 s) before it notices the exit. Measured on the Celery
# deployment test: a third to a half of the onboarding tasks (about 1 s of work) held their worker
# slot 5 s longer; at 1 s that tail is gone and the test drains its 200 customers in 95 s instead
# of 150 s. The price is one heartbeat per second per running task instead of one per 5 s.
WORKER_SETTINGS = {"AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1"}


def airflow_environment(api_port: int, airflow_home: Path | None = None) -> dict[str, str]:
    """The environment ``make airflow`` gives Airflow's components."""
    env = os.environ.copy()
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home or env.get("AIRFLOW_HOME") or ROOT / "var" / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            # Local only: no login page, and the connection form's Test button works.
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            # A 2-core laptop does not need 32 LocalExecutor workers.
            "AIRFLOW__CORE__PARALLELISM": env.get("AIRFLOW__CORE__PARALLELISM", "8"),
            "PYTHONPATH": str(ROOT),
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "GX_ANALYTICS_ENABLED": "False",
        }
        | WORKER_SETTINGS
    )
    return env


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_sandbox(port: int, state_file: Path) -> subprocess.Popen | None:
    """The sandbox in the background, remembering its customers in ``state_file``, seeded as for
    ``make demo`` (one customer already ours, one account of another partner), so the demo customers
    end in the same statuses in the UI as in the demo. Seeding twice changes nothing.
    """
    from avepoint_sandbox import SandboxControl
    from tools.demo.customers import sandbox_seed

    control = SandboxControl(f"http://127.0.0.1:{port}")
    if port_in_use(port):
        print(f"A sandbox (or something else) already listens on port {port}; using it.")
        control.seed(**sandbox_seed())
        return None
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "avepoint_sandbox",
            "--port",
            str(port),
            "--state-file",
            str(state_file),
        ],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        control.wait_until_up(timeout=20)
        control.seed(**sandbox_seed())
    except BaseException:
        stop_process_group(process, timeout=5)
        raise
    return process


def prepare(settings: AirflowSettings, env: dict[str, str]) -> None:
    """Metadata database, settings and warehouse, ready for ``airflow standalone``."""
    airflow = str(BIN / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    load_into_airflow(settings, airflow, env=env)

    from include.onboarding.config import VARIABLE, WAREHOUSE_CONN_ID, OnboardingSettings
    from include.onboarding.warehouse import CustomerWarehouse
    from tools.demo.customers import demo_customers

    table = OnboardingSettings.from_mapping(json.loads(settings.variables.get(VARIABLE) or "{}")).table
    with _environment(environment(settings)):
        warehouse = CustomerWarehouse(WAREHOUSE_CONN_ID, table)
        warehouse.prepare()
        added = warehouse.add_customers(demo_customers())
    print(f"Warehouse table {table}: {added} demo customer(s) added as pending")


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """These environment variables in this process for the block only (callers may be test sessions)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def start_standalone(env: dict[str, str], output: Path | None = None) -> subprocess.Popen:
    """``airflow standalone`` in its own process group (its components outlive a killed parent).

    ``output`` collects its console output (default: this terminal).
    """
    stdout = output.open("ab") if output is not None else None
    try:
        return subprocess.Popen(
            [str(BIN / "airflow"), "standalone"],
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout else None,
            start_new_session=True,
        )
    finally:
        if stdout is not None:
            stdout.close()


def stop_process_group(process: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM the process's group, then SIGKILL whatever is left after ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def interrupt_on_stop_signals() -> None:
    """Make SIGTERM and SIGHUP raise KeyboardInterrupt, as Ctrl-C does, so ``finally`` blocks stop the
    process groups this process started: by default they kill only this process, and Airflow's
    components, in groups of their own, would run on. Once stopping, further signals are ignored so
    they cannot cut the cleanup short.
    """
    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def interrupt(signum: int, frame: object) -> None:
        for sig in stop_signals:
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in stop_signals:
        signal.signal(sig, interrupt)


def argument_parser(description: str) -> argparse.ArgumentParser:
    """The options ``make airflow`` and ``make cluster`` share."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sandbox-port", type=int, default=8765)
    parser.add_argument("--api-port", type=int, default=8080)
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="keep the sandbox's customers and the SQLite warehouse here instead of var/ and "
        "data/ (AIRFLOW_HOME comes from the environment)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = argument_parser(__doc__).parse_args(argv)
    interrupt_on_stop_signals()
    state = args.state_dir or ROOT / "var"
    env = airflow_environment(args.api_port)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    sandbox = standalone = None
    try:
        sandbox = start_sandbox(args.sandbox_port, state / "sandbox-state.json")
        warehouse = args.state_dir / "warehouse.db" if args.state_dir else None
        prepare(local_settings(args.sandbox_port, args.api_port, warehouse), env)
        print(
            f"Airflow UI: http://127.0.0.1:{args.api_port} (no login). "
            "Ctrl-C (or SIGTERM/SIGHUP) stops Airflow and the sandbox.",
            flush=True,
        )
        standalone = start_standalone(env)
        return standalone.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        # The group outlives its leader: standalone's components run on after it exits.
        if standalone is not None:
            stop_process_group(standalone)
        if sandbox is not None:
            stop_process_group(sandbox, timeout=10)


if __name__ == "__main__":
    sys.exit(main())
