"""The project on the platforms users deploy to: Airflow 3.3.1's constraints on Python 3.12.

MWAA 3.3.1 installs requirements with ``-c`` Airflow's constraints for 3.3.1 (constraints/) and
never lets them override its essential set; Astro Runtime 3.3-7 ships Airflow 3.3.1 and its
providers (the Dockerfile's FROM). Two checks, sharing ``make dist``'s wheel and one virtualenv
(tests/support/platform_venv.py):

- the resolution replay: MWAA's requirements file (requirements.txt and the wheel) resolves for
  Python 3.12 from binary wheels under those constraints;
- the platform venv: Airflow 3.3.1 under the constraints, the Astro build replayed on it, then the
  DAG folder, the project's DAG integrity and provider tests, and one ``airflow dags test`` of the
  onboarding DAG against the sandbox (``make demo``), all with the venv's own Python.

The newest releases are the development environment's (requirements-lock.txt): the rest of the
suite runs there.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.conftest import ROOT
from tests.support.platform_venv import CONSTRAINED, CONSTRAINTS, PLATFORM_AIRFLOW, PlatformVenv, pinned

pytestmark = pytest.mark.packaging
MWAA_PLUGINS_DIR = "/usr/local/airflow/plugins/"
CHECK_IN_IMAGE = """
import json, os
from airflow.dag_processing.dagbag import DagBag
from airflow.providers_manager import ProvidersManager
import avepoint_provider

bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
print(json.dumps({
    "import_errors": {path: str(error) for path, error in bag.import_errors.items()},
    "dag_ids": sorted(bag.dag_ids),
    "connection_types": [m.connection_type for m in ProvidersManager().iter_connection_type_hook_ui_metadata()],
    "provider_file": avepoint_provider.__file__,
}))
"""


# Requirements published as source only: MWAA's image has what builds them (MariaDB's devel RPMs for
# mysqlclient), so the replay builds their wheels first with Python 3.12, at the constrained versions.
SOURCE_ONLY = ("mysqlclient",)


def source_only_wheels(wheels: Path) -> list[str]:
    """``--find-links`` to wheels of :data:`SOURCE_ONLY`, built as MWAA's image would build them."""
    from tests.support.platform_venv import platform_python

    python = platform_python()
    assert python, "no Python 3.12 found (set AVEPOINT_PLATFORM_PYTHON)"
    pins = [f"{name}=={pinned(CONSTRAINTS, name)}" for name in SOURCE_ONLY]
    built = subprocess.run(
        [python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), *pins],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return ["--find-links", str(wheels)]


def replay_mwaa_install(requirements: Path, target: Path, *extra: str) -> subprocess.CompletedProcess:
    """MWAA's install of ``requirements`` as a resolution only: Python 3.12, wheels, its constraints."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--report",
            "-",
            "--python-version",
            "3.12",
            "--only-binary=:all:",
            "--target",
            str(target),
            f"apache-airflow=={PLATFORM_AIRFLOW}",  # the environment's own Airflow
            "-r",
            str(requirements),
            *CONSTRAINED,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("with_mysql", [False, True], ids=["default", "with-mysql"])
def test_mwaa_requirements_resolve_under_the_constraints_mwaa_forces(
    dist, provider_wheel, tmp_path, with_mysql
):
    # `make dist`'s requirements-mwaa.txt (DIST_ARGS=--with-mysql for a MySQL warehouse), its wheel
    # line pointing here instead of MWAA's plugins folder.
    from tools.dist import write_mwaa_requirements

    mwaa = write_mwaa_requirements(provider_wheel, tmp_path, with_mysql=with_mysql).read_text()
    assert MWAA_PLUGINS_DIR in mwaa
    assert ("mysqlclient" in mwaa) is with_mysql
    local = tmp_path / "requirements-mwaa.txt"
    local.write_text(mwaa.replace(MWAA_PLUGINS_DIR, f"{dist}/"))

    wheels = source_only_wheels(tmp_path / "wheels") if with_mysql else []
    result = replay_mwaa_install(local, tmp_path / "target", *wheels)

    assert result.returncode == 0, result.stderr[-3000:]
    resolved = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(result.stdout)["install"]
    }
    assert resolved["apache-airflow"] == PLATFORM_AIRFLOW
    assert "airflow-provider-avepoint" in resolved
    # Every package the constraints name resolved to the constrained version (pip's -c guarantees
    # it; this says the replay really ran with them).
    assert resolved["apache-airflow-providers-http"] == pinned(CONSTRAINTS, "apache-airflow-providers-http")
    assert resolved["pandas"] == pinned(CONSTRAINTS, "pandas")
    if with_mysql:
        assert resolved["mysqlclient"] == pinned(CONSTRAINTS, "mysqlclient")
        assert resolved["apache-airflow-providers-mysql"] == pinned(
            CONSTRAINTS, "apache-airflow-providers-mysql"
        )


def test_the_platform_venv_is_python_3_12_with_the_platform_s_airflow(platform_venv: PlatformVenv):
    assert f"apache-airflow=={PLATFORM_AIRFLOW}" in platform_venv.base
    assert "include-system-site-packages = false" in (platform_venv.venv / "pyvenv.cfg").read_text()
    version = platform_venv.run(["python", "-c", "import sys; print(sys.version_info[:2])"]).strip()
    assert version == "(3, 12)"


def test_requirements_install_with_no_other_project_file_present(platform_venv: PlatformVenv):
    assert platform_venv.files_at_requirements_install == ["requirements.txt"]


def test_the_copied_project_leaves_out_the_sandbox_and_dev_tools(platform_venv: PlatformVenv):
    top_level = {path.split("/")[0] for path in platform_venv.copied}
    assert top_level.isdisjoint(
        {"avepoint_sandbox", "bench", "tests", "tools", "constraints", "var", ".venv", ".git", ".astro"}
    )
    assert {"dags", "include", "plugins", "provider", "data", "requirements.txt", "Dockerfile"} <= top_level


def test_the_dockerfile_installs_the_provider_non_editable(platform_venv: PlatformVenv):
    commands = platform_venv.dockerfile_commands
    assert commands, "the Dockerfile has no RUN pip install line"
    assert all("-e" not in argv and "--editable" not in argv for argv in commands)
    assert [arg for argv in commands for arg in argv if arg.startswith("./")] == ["./provider"]


def test_the_dockerfile_install_adds_the_provider_and_changes_nothing_else(platform_venv: PlatformVenv):
    assert platform_venv.removed_by_dockerfile == set()
    added = {canonicalize_name(item.split("==")[0]) for item in platform_venv.added_by_dockerfile}
    assert added == {"airflow-provider-avepoint"}


def test_requirements_keep_every_version_the_image_preinstalled(platform_venv: PlatformVenv):
    """Installed with no constraints file (as the Astro image build does), requirements.txt (with
    requirements-mysql.txt appended, as a MySQL deployment does) neither up- nor downgrades a package
    the image already has: its ranges hold the platform's versions."""
    base = {canonicalize_name(item.split("==")[0]): item for item in platform_venv.base}
    moved = sorted(
        f"{base[canonicalize_name(item.split('==')[0])]} -> {item}"
        for item in platform_venv.requirements_unconstrained
        if canonicalize_name(item.split("==")[0]) in base
    )
    assert moved == []


def test_the_dag_folder_imports_and_the_connection_type_is_registered(platform_venv: PlatformVenv):
    output = platform_venv.run(["python", "-c", CHECK_IN_IMAGE], env=platform_venv.image_env())
    checked = json.loads(output.splitlines()[-1])
    assert checked["import_errors"] == {}
    assert checked["dag_ids"] == sorted(p.stem for p in (ROOT / "dags").glob("avepoint_*.py"))
    assert "avepoint" in checked["connection_types"]
    assert "/site-packages/avepoint_provider/" in checked["provider_file"]


def test_the_dag_integrity_and_provider_tests_pass_on_the_platform(platform_venv: PlatformVenv):
    report = platform_venv.root / "platform-tests.xml"
    passthrough = {key: os.environ[key] for key in ("CI", "AVEPOINT_TEST_POSTGRES") if key in os.environ}
    result = subprocess.run(
        [
            "python",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-m",
            "not packaging",  # not this file's own fixtures again, inside the venv they build
            f"--junitxml={report}",
            "tests/dags/test_dag_integrity.py",
            "tests/provider",
        ],
        env=platform_venv.env | {"PYTHONPATH": str(platform_venv.checkout)} | passthrough,
        cwd=platform_venv.checkout,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    suite = ElementTree.parse(report).getroot().find("testsuite")
    files = {case.get("classname").split(".")[1] for case in suite.iter("testcase")}
    assert {"dags", "provider"} <= files
    assert int(suite.get("tests")) > 100 and suite.get("failures") == "0" and suite.get("errors") == "0"


def test_make_demo_runs_the_onboarding_dag_against_the_sandbox_on_the_platform(platform_venv: PlatformVenv):
    checkout = platform_venv.checkout
    result = subprocess.run(
        ["python", "-m", "tools.demo"],
        env=platform_venv.env | {"PYTHONPATH": str(checkout)},
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = checkout / "var" / "demo" / "dags-test.log"
    assert result.returncode == 0, result.stdout[-3000:] + (log.read_text()[-3000:] if log.exists() else "")
    with sqlite3.connect(checkout / "data" / "warehouse.db") as db:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM customer_onboarding GROUP BY status"))
    assert statuses.get("onboarded", 0) > 0
    assert not {"pending", "in_progress"} & set(statuses), statuses
