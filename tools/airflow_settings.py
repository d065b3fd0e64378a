"""Read ``airflow_settings.yaml`` (astro CLI format) and hand it to a local Airflow.

Plain Airflow has no astro CLI, so ``make airflow`` loads connections, pools and
variables through the ``airflow`` CLI with :func:`load_into_airflow`; ``make demo``
and the tests use :func:`environment` instead (``AIRFLOW_CONN_*``/``AIRFLOW_VAR_*``,
Airflow's JSON connection form), so one file describes every local setup.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_FILE = ROOT / "airflow_settings.yaml"


@dataclass
class AirflowSettings:
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    pools: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)


def load(path: Path = SETTINGS_FILE) -> AirflowSettings:
    """Parse the file into Airflow's JSON connection form; relative sqlite hosts become absolute."""
    raw = (yaml.safe_load(path.read_text()) or {}).get("airflow") or {}
    settings = AirflowSettings()
    for conn in raw.get("connections") or []:
        fields = {
            "conn_type": conn["conn_type"],
            "host": conn.get("conn_host"),
            "login": conn.get("conn_login"),
            "password": conn.get("conn_password"),
            "schema": conn.get("conn_schema"),
            "port": conn.get("conn_port"),
            "extra": conn.get("conn_extra") or {},
        }
        if fields["conn_type"] == "sqlite" and fields["host"] and not Path(fields["host"]).is_absolute():
            fields["host"] = str(ROOT / fields["host"])
        settings.connections[conn["conn_id"]] = {k: v for k, v in fields.items() if v not in (None, "", {})}
    for pool in raw.get("pools") or []:
        settings.pools.append(
            {
                "name": pool["pool_name"],
                "slots": int(pool["pool_slot"]),
                "description": pool.get("pool_description", ""),
            }
        )
    for variable in raw.get("variables") or []:
        value = variable["variable_value"]
        settings.variables[variable["variable_name"]] = value if isinstance(value, str) else json.dumps(value)
    return settings


def environment(settings: AirflowSettings) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` and ``AIRFLOW_VAR_*`` variables for the connections and variables."""
    env = {f"AIRFLOW_CONN_{cid.upper()}": json.dumps(fields) for cid, fields in settings.connections.items()}
    env.update({f"AIRFLOW_VAR_{name.upper()}": value for name, value in settings.variables.items()})
    return env


def load_into_airflow(
    settings: AirflowSettings, airflow: str = "airflow", env: dict[str, str] | None = None
) -> None:
    """Create or replace each connection, pool and variable in the metadata database.

    ``env`` is the environment of the ``airflow`` commands (default: this process's), so
    its ``AIRFLOW_HOME`` picks the metadata database. One ``import`` command per kind (each
    ``airflow`` call costs seconds of start-up); the files live in ``AIRFLOW_HOME`` only
    while they are read, as they hold the connections' secrets.
    """
    env = dict(os.environ if env is None else env)
    home = Path(env.get("AIRFLOW_HOME") or ROOT / "var")
    home.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([airflow, *args], check=True, stdout=subprocess.DEVNULL, env=env)

    with tempfile.TemporaryDirectory(dir=home, prefix=".settings-import-") as folder:
        files = Path(folder)
        if settings.connections:
            connections = {
                conn_id: {k: v for k, v in fields.items() if k != "extra"}
                | ({"extra_dejson": fields["extra"]} if fields.get("extra") else {})
                for conn_id, fields in settings.connections.items()
            }
            (files / "connections.json").write_text(json.dumps(connections))
            run("connections", "import", "--overwrite", str(files / "connections.json"))
        if settings.pools:
            pools = {
                p["name"]: {"slots": p["slots"], "description": p["description"]} for p in settings.pools
            }
            (files / "pools.json").write_text(json.dumps(pools))
            run("pools", "import", str(files / "pools.json"))
        if settings.variables:
            (files / "variables.json").write_text(json.dumps(settings.variables))
            run("variables", "import", "--action-on-existing-key", "overwrite", str(files / "variables.json"))
