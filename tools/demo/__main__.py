"""``make demo``: sandbox up, warehouse seeded, the DAG run once, the statuses printed.

Everything lives in the repo: the SQLite warehouse in ``data/`` (``airflow_settings.yaml``), and
under ``var/`` AIRFLOW_HOME, the sandbox's remembered customers and the run's full log. Running it
again is safe: the seed leaves existing rows alone and the sandbox remembers what it created.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tools.airflow_settings import ROOT, environment, load
from tools.demo.customers import demo_customers, sandbox_seed

DAG_ID = "avepoint_customer_onboarding"
VAR = ROOT / "var"
LOG = VAR / "demo" / "dags-test.log"


def _airflow_env(sandbox_url: str) -> dict[str, str]:
    settings = load()
    api = settings.connections["avepoint_default"]
    api["host"] = sandbox_url
    api["extra"] = api.get("extra", {}) | {"token_url": f"{sandbox_url}/connect/token"}
    # `airflow dags test` runs without an API server: the summary goes to the log, not a note.
    settings.connections.pop("airflow_api", None)
    env = os.environ.copy() | environment(settings)
    env.setdefault("AIRFLOW_HOME", str(VAR / "airflow"))
    env |= {
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "PYTHONPATH": str(ROOT),
        "GX_ANALYTICS_ENABLED": "False",
    }
    return env


def _airflow(env: dict[str, str], *args: str, log: Path | None = None) -> int:
    airflow = str(Path(sys.executable).with_name("airflow"))
    if log is None:
        return subprocess.run([airflow, *args], env=env, capture_output=True, check=True).returncode
    with log.open("w") as out:
        return subprocess.run([airflow, *args], env=env, stdout=out, stderr=subprocess.STDOUT).returncode


def _print_table(rows: list[dict]) -> None:
    headers = ("customer_key", "organization", "status", "avepoint id", "reason")
    lines = []
    for row in rows:
        reason = textwrap.shorten(str(row["status_reason"] or ""), 90, placeholder="…")
        customer_id = str(row["avepoint_customer_id"] or "")[:13]
        lines.append(
            (row["customer_key"], str(row["organization_name"])[:28], row["status"], customer_id, reason)
        )
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *lines, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*headers))
    print(fmt.format(*("-" * w for w in widths)))
    for line in lines:
        print(fmt.format(*line))


def main() -> int:
    from avepoint_sandbox import SandboxConfig, SandboxServer

    LOG.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("avepoint_sandbox").setLevel(logging.WARNING)  # one line per request is noise here
    config = SandboxConfig(port=0, seed=sandbox_seed(), state_file=VAR / "demo" / "sandbox-state.json")
    with SandboxServer(config) as sandbox:
        env = _airflow_env(sandbox.url)
        os.environ.update({k: v for k, v in env.items() if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))})
        print(f"AvePoint sandbox running at {sandbox.url}")

        from include.onboarding.warehouse import CustomerWarehouse

        warehouse = CustomerWarehouse(
            "customer_warehouse", json.loads(env["AIRFLOW_VAR_AVEPOINT_ONBOARDING"])["table"]
        )
        warehouse.prepare()
        added = warehouse.add_customers(demo_customers())
        warehouse_file = json.loads(env["AIRFLOW_CONN_CUSTOMER_WAREHOUSE"])["host"]
        print(f"Warehouse {warehouse_file}: {added} new sample customer(s) loaded as pending")

        if not (Path(env["AIRFLOW_HOME"]) / "airflow.db").exists():
            print("Preparing Airflow's metadata database (first run only)...")
            _airflow(env, "db", "migrate")
        print(f"Running {DAG_ID} once (airflow dags test); full log: {LOG.relative_to(ROOT)}")
        code = _airflow(env, "dags", "test", DAG_ID, log=LOG)

        rows = warehouse.rows([str(c["customer_key"]) for c in demo_customers()])
        in_sandbox = len(sandbox.control().inspect()["customers"])
    print()
    _print_table(rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    print()
    print("Statuses: " + ", ".join(f"{status} {n}" for status, n in sorted(counts.items())))
    print(f"Customers of the partner in the sandbox: {in_sandbox}")
    if code != 0:
        print(f"The DAG run failed (exit {code}); see {LOG}")
    return code


if __name__ == "__main__":
    sys.exit(main())
