"""What the packaging tests build once per test run and share (fixtures imported by tests/conftest.py).

- ``dist``: ``make dist``'s output (``tools.dist`` into a temporary folder): the one provider wheel
  of the run, plugins.zip and requirements-mwaa.txt.
- ``platform_venv``: one virtualenv standing in for the image a platform runs the project in. MWAA
  3.3.1 and Astro Runtime 3.3-7 run Airflow 3.3.1 on Python 3.12 with the provider versions of that
  release; the venv gets Python 3.12, ``apache-airflow==3.3.1`` and providers-http (both images
  preinstall it) under Airflow's own constraints for 3.3.1 (``constraints/``, which MWAA adds to
  every requirements install). Onto it the Astro image build is replayed in its order: the
  ONBUILD ``pip install -r requirements.txt`` with no other project file present (under the same
  constraints, as MWAA installs it), the project copied through ``.dockerignore``, then the
  Dockerfile's own ``RUN pip install`` lines. What MWAA installs in one run (requirements.txt and
  the wheel) is replayed by resolution only (tests/packaging/test_platform.py).

Astro Runtime's own preinstalled versions are Astronomer's, not Airflow's constraints file; the
constraints are the published stand-in (docs/DEPLOY.md says which claims no test here runs).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.support.dockerignore import DockerIgnore
from tests.support.venv import create_venv, dry_run, installed, run, venv_env

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints" / "airflow-3.3.1-python-3.12.txt"
ESSENTIAL = ROOT / "constraints" / "mwaa-3.3.1-essential.txt"
LOCK = ROOT / "requirements-lock.txt"
PYENV_ROOT = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
# What a checkout copy for running the project's own tests in the platform venv leaves behind.
CHECKOUT_IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "var", "dist", "build", "__pycache__", "*.pyc", "*.egg-info", ".*_cache"
)


def platform_python() -> str | None:
    """A Python 3.12 (the platforms' images run it): $AVEPOINT_PLATFORM_PYTHON, python3.12 on PATH
    (a pyenv shim there may name a version pyenv has not activated), or pyenv's own 3.12 builds."""
    candidates = [
        os.environ.get("AVEPOINT_PLATFORM_PYTHON"),
        shutil.which("python3.12"),
        *sorted(map(str, PYENV_ROOT.glob("versions/3.12*/bin/python3.12")), reverse=True),
    ]
    check = ["-c", "import sys; assert sys.version_info[:2] == (3, 12)"]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, *check], capture_output=True).returncode == 0:
            return candidate
    return None


def pinned(path: Path, name: str) -> str:
    """The version ``path`` (a constraints or lock file) pins ``name`` to."""
    match = re.search(rf"^{re.escape(name)}==(\S+)\s*$", path.read_text(), re.MULTILINE | re.IGNORECASE)
    assert match, f"{path.name} pins no {name}"
    return match.group(1)


PLATFORM_AIRFLOW = pinned(ESSENTIAL, "apache-airflow")
# What the DAG integrity and provider tests need beyond the image (ruff: the example DAG's lint test).
TEST_TOOLS = ("pytest", "pytest-timeout", "ruff")
CONSTRAINED = ["-c", str(CONSTRAINTS), "-c", str(ESSENTIAL)]


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    """``make dist`` once per run: the folder with the wheel, plugins.zip and requirements-mwaa.txt."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "tools.dist", "--out", str(out)], cwd=ROOT, check=True)
    return out


@pytest.fixture(scope="session")
def provider_wheel(dist) -> Path:
    (wheel,) = dist.glob("airflow_provider_avepoint-*.whl")
    return wheel


@dataclass
class PlatformVenv:
    """The replayed image and what each step of its build left behind."""

    root: Path
    venv: Path
    project: Path  # /usr/local/airflow of the image: the project as .dockerignore lets it through
    checkout: Path  # a copy of the whole repository, tests included, for running them in the venv
    airflow_home: Path
    base: set[str]  # name==version after the platform's own install (Airflow, providers-http)
    provider_alone: list[str]  # what the wheel alone would add to the base (a dry run)
    requirements_unconstrained: list[str]  # what requirements(-mysql).txt would add to the base (a dry run)
    sandbox_token: dict  # the reply of docker-compose.override.yml's sandbox, run on the base
    files_at_requirements_install: list[str]
    copied: list[str]
    dockerfile_commands: list[list[str]]
    added_by_dockerfile: set[str]
    removed_by_dockerfile: set[str]
    env: dict[str, str] = field(default_factory=dict)

    def image_env(self, **extra: str) -> dict[str, str]:
        """The environment of the image's Airflow: the project on PYTHONPATH, as Astro sets it."""
        return (
            self.env
            | {
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.project / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.project / "plugins"),
                "PYTHONPATH": str(self.project),
            }
            | extra
        )

    def installed(self) -> set[str]:
        return installed(self.env, self.root)

    def run(self, argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
        return run(argv, env=self.env if env is None else env, cwd=cwd or self.root)


def _token_from_the_override_sandbox(env: dict[str, str], container_root: Path) -> dict:
    """The sandbox service of ``astro dev start`` runs on the stock image: ask it for a token with
    the credentials and token URL path of airflow_settings.yaml's ``avepoint_default``."""
    import requests

    from tests.support.astro import sandbox_from_override

    settings = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text())["airflow"]["connections"]
    conn = next(c for c in settings if c["conn_id"] == "avepoint_default")
    token_path = urlsplit(conn["conn_extra"]["token_url"]).path
    with sandbox_from_override(env, container_root) as url:
        reply = requests.post(
            url + token_path,
            data={
                "grant_type": "client_credentials",
                "client_id": conn["conn_login"],
                "client_secret": conn["conn_password"],
                "scope": conn["conn_extra"]["scope"],
            },
            timeout=10,
        )
    return {"status": reply.status_code, "fields": sorted(reply.json())}


def _dockerfile_pip_installs() -> list[list[str]]:
    from tests.packaging.project_files import dockerfile_pip_installs

    return dockerfile_pip_installs()


@pytest.fixture(scope="session")
def platform_venv(tmp_path_factory, provider_wheel) -> PlatformVenv:
    python = platform_python()
    assert python, (
        "no Python 3.12 found: the platform tests need it (MWAA 3.3.1 and the Astro Runtime image run "
        "it); install it (python3.12 on PATH, or pyenv) or set AVEPOINT_PLATFORM_PYTHON"
    )
    root = tmp_path_factory.mktemp("platform")
    venv, project, airflow_home = root / "venv", root / "usr-local-airflow", root / "airflow-home"
    project.mkdir()
    env = venv_env(venv) | {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "GX_ANALYTICS_ENABLED": "False",
    }
    create_venv(venv, env, python=python)
    run(
        ["python", "-c", "import sys; assert sys.version_info[:2] == (3, 12), sys.version"], env=env, cwd=root
    )

    # The platform's image: Airflow and providers-http at the versions of Airflow 3.3.1's release.
    pip_install = ["python", "-m", "pip", "install", "--quiet"]
    run(
        [*pip_install, f"apache-airflow=={PLATFORM_AIRFLOW}", "apache-airflow-providers-http", *CONSTRAINED],
        env=env,
        cwd=root,
    )
    base = installed(env, root)
    sandbox_token = _token_from_the_override_sandbox(env, root / "sandbox-container")
    provider_alone = dry_run([str(provider_wheel), *CONSTRAINED], env=env, cwd=root)
    # Astro installs requirements.txt onto its image with no constraints file: what would pip change?
    requirements_unconstrained = dry_run(
        ["-r", str(ROOT / "requirements.txt"), "-r", str(ROOT / "requirements-mysql.txt")], env=env, cwd=root
    )

    # ONBUILD: `COPY requirements.txt .` then `pip install -r requirements.txt`, nothing else present;
    # under the constraints, as MWAA installs it, so the venv runs the lower bounds they pin.
    shutil.copy2(ROOT / "requirements.txt", project / "requirements.txt")
    files_at_requirements_install = sorted(path.name for path in project.iterdir())
    run([*pip_install, "-r", "requirements.txt", *CONSTRAINED], env=env, cwd=project)

    # ONBUILD `COPY . .`: the project minus .dockerignore; then the Dockerfile's RUN pip install lines.
    copied = DockerIgnore.from_file(ROOT / ".dockerignore").copy_context(ROOT, project)
    before = installed(env, project)
    commands = _dockerfile_pip_installs()
    for argv in commands:
        run(["python", "-m", *argv], env=env, cwd=project)
    after = installed(env, project)

    # Not part of the image: the tools the project's own tests run with, and Airflow's metadata DB.
    tools = [f"{name}=={pinned(LOCK, name)}" for name in TEST_TOOLS]
    run([*pip_install, *tools, *CONSTRAINED], env=env, cwd=root)
    checkout = root / "checkout"
    shutil.copytree(ROOT, checkout, ignore=CHECKOUT_IGNORED)
    run(["airflow", "db", "migrate"], env=env, cwd=root)
    return PlatformVenv(
        root=root,
        venv=venv,
        project=project,
        checkout=checkout,
        airflow_home=airflow_home,
        base=base,
        provider_alone=provider_alone,
        requirements_unconstrained=requirements_unconstrained,
        sandbox_token=sandbox_token,
        files_at_requirements_install=files_at_requirements_install,
        copied=copied,
        dockerfile_commands=commands,
        added_by_dockerfile=after - before,
        removed_by_dockerfile=before - after,
        env=env,
    )
