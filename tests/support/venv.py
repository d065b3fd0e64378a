"""Fresh virtualenvs for packaging tests: nothing from this test run but pip's settings.

pip keeps this machine's configured package index and wheel folder (``PIP_*``) and its cache under
``HOME``: a repeat install of the same versions takes its wheels from that cache (no download), so
what remains is unpacking them, about a minute for Airflow and the runtime packages here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# A fresh venv installs Airflow and every pin from the local package cache in a few minutes.
INSTALL_TIMEOUT = 900
PIP_VERSION = "25.3"


def run(argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float = INSTALL_TIMEOUT) -> str:
    """Run ``argv``; a non-zero exit fails the test with the ends of its output. Returns stdout."""
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(argv)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def venv_env(venv: Path, **extra: str) -> dict[str, str]:
    """The venv first on PATH, pip's settings, ``extra``; no PYTHONPATH, no AIRFLOW_* of this run."""
    env = {key: value for key, value in os.environ.items() if key.startswith("PIP_")}
    return (
        env
        | {
            "HOME": os.environ["HOME"],
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "VIRTUAL_ENV": str(venv),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        | extra
    )


def create_venv(venv: Path, env: dict[str, str], python: str = sys.executable) -> None:
    """A venv of ``python`` without system site-packages, with the project's pip version."""
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    run(["python", "-m", "pip", "install", "--quiet", f"pip=={PIP_VERSION}"], env=env, cwd=venv)


def dry_run(args: list[str], *, env: dict[str, str], cwd: Path) -> list[str]:
    """name==version of what ``pip install args`` would add to the venv, installing nothing."""
    report = json.loads(
        run(
            ["python", "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-", *args],
            env=env,
            cwd=cwd,
        )
    )
    return sorted(f"{item['metadata']['name']}=={item['metadata']['version']}" for item in report["install"])


def installed(env: dict[str, str], cwd: Path) -> set[str]:
    """name==version of every distribution in the venv (pip freeze would show a path for ./provider)."""
    listed = json.loads(run(["python", "-m", "pip", "list", "--format=json"], env=env, cwd=cwd))
    return {f"{item['name']}=={item['version']}" for item in listed}
