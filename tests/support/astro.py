"""``astro dev start``'s extra service, replayed without Docker.

astro-cli (airflow/docker.go) loads ``docker-compose.override.yml`` from the project folder into
its own compose project, with the project folder as the working directory, so relative volume
paths are the project's folders. The override's sandbox service runs the stock Astro Runtime
image with the sandbox's folders mounted; here the same entrypoint, command, working directory,
environment and volumes run in a venv that holds what that image holds, each container path laid
out under a temporary folder. Only the listen address moves: loopback and a free port.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERRIDE = ROOT / "docker-compose.override.yml"
SANDBOX_SERVICE = "avepoint-sandbox"
STARTUP_TIMEOUT = 60


def override() -> dict:
    return yaml.safe_load(OVERRIDE.read_text())


def sandbox_service() -> dict:
    return override()["services"][SANDBOX_SERVICE]


def _in(container_root: Path, path: str) -> Path:
    return container_root / path.lstrip("/")


def _container_argv(service: dict) -> list[str]:
    """entrypoint + command, with the listen address swapped for loopback and a free port."""
    argv = [*service["entrypoint"], *service["command"]]
    for flag, value in (("--host", "127.0.0.1"), ("--port", "0")):
        assert flag in argv, f"the sandbox service sets no {flag}"
        argv[argv.index(flag) + 1] = value
    return argv


@contextmanager
def sandbox_from_override(env: dict[str, str], container_root: Path) -> Iterator[str]:
    """Run the override's sandbox service with ``env``'s Python; yield its base URL."""
    service = sandbox_service()
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        mounted = _in(container_root, target)
        mounted.parent.mkdir(parents=True, exist_ok=True)
        mounted.symlink_to((ROOT / source).resolve(), target_is_directory=True)
    container_env = {
        key: ":".join(
            str(_in(container_root, part)) if part.startswith("/") else part for part in value.split(":")
        )
        for key, value in service.get("environment", {}).items()
    }
    workdir = _in(container_root, service["working_dir"])
    workdir.mkdir(parents=True, exist_ok=True)
    log = container_root / "sandbox.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            _container_argv(service),
            env=env | container_env,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        line = process.stdout.readline()  # printed once it listens; empty if it died first
        assert line.startswith("SANDBOX_URL="), (
            f"the sandbox service did not start:\n{log.read_text()[-3000:]}"
        )
        yield line.strip().split("=", 1)[1]
    finally:
        process.terminate()
        process.wait(timeout=STARTUP_TIMEOUT)
