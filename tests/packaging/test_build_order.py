"""The Astro image build, replayed in a fresh virtualenv (there is no Docker daemon here).

The Astro Runtime image has Airflow installed; its ONBUILD steps install requirements.txt with no
other project file present, then copy the project (minus .dockerignore); then the Dockerfile's own
RUN lines run. This test does the same, in that order, and then checks what a deployment needs:
the DAG folder imports without errors and Airflow knows the `avepoint` connection type.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.packaging.project_files import (
    DOCKERIGNORE,
    REQUIREMENTS,
    airflow_version,
    dockerfile_pip_installs,
)
from tests.support.dockerignore import DockerIgnore
from tests.support.venv import create_venv, installed, run, venv_env

pytestmark = pytest.mark.packaging
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


def image_env(venv: Path, airflow_home: Path, project: Path) -> dict[str, str]:
    """Nothing from this test run's environment but pip's settings (the local package index)."""
    return venv_env(venv) | {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(project / "plugins"),
        # The Astro Runtime image puts the project root on PYTHONPATH, so `include.` imports work.
        "PYTHONPATH": str(project),
    }


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The replayed build: its venv, project folder, environment, step timings and pip freezes."""
    tmp = tmp_path_factory.mktemp("astro-image")
    venv, project, airflow_home = tmp / "venv", tmp / "usr-local-airflow", tmp / "airflow-home"
    project.mkdir()
    env = image_env(venv, airflow_home, project)
    timings: dict[str, float] = {}

    started = time.monotonic()
    create_venv(venv, env)
    timings["venv"] = time.monotonic() - started

    # The runtime image: Airflow preinstalled, then ONBUILD `COPY requirements.txt .` and `pip install -r`.
    started = time.monotonic()
    (project / "requirements.txt").write_bytes(REQUIREMENTS.read_bytes())
    files_at_install = sorted(path.name for path in project.iterdir())
    run(
        [
            "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            f"apache-airflow=={airflow_version()}",
            "-r",
            "requirements.txt",
        ],
        env=env,
        cwd=project,
    )
    timings["airflow + requirements.txt"] = time.monotonic() - started

    # ONBUILD `COPY . .`: the project minus .dockerignore.
    copied = DockerIgnore.from_file(DOCKERIGNORE).copy_context(ROOT, project)

    # The Dockerfile's own RUN pip install lines, in the project folder as in the image.
    started = time.monotonic()
    before = installed(env, project)
    commands = dockerfile_pip_installs()
    for argv in commands:
        run(["python", "-m", *argv], env=env, cwd=project)
    after = installed(env, project)
    timings["Dockerfile RUN pip install"] = time.monotonic() - started

    started = time.monotonic()
    checked = json.loads(run(["python", "-c", CHECK_IN_IMAGE], env=env, cwd=project).splitlines()[-1])
    timings["DagBag + providers"] = time.monotonic() - started
    return {
        "venv": venv,
        "files_at_install": files_at_install,
        "copied": copied,
        "commands": commands,
        "added": after - before,
        "removed": before - after,
        "checked": checked,
        "timings": timings,
    }


def test_report_how_long_the_build_took(image, capsys):
    with capsys.disabled():
        steps = ", ".join(f"{step} {seconds:.0f} s" for step, seconds in image["timings"].items())
        print(f"\n[packaging] Astro build replay: {steps}; total {sum(image['timings'].values()):.0f} s")
    assert image["timings"]


def test_the_venv_does_not_see_system_site_packages(image):
    assert "include-system-site-packages = false" in (image["venv"] / "pyvenv.cfg").read_text()


def test_requirements_install_with_no_other_project_file_present(image):
    assert image["files_at_install"] == ["requirements.txt"]


def test_the_copied_project_leaves_out_the_sandbox_and_dev_tools(image):
    top_level = {path.split("/")[0] for path in image["copied"]}
    assert top_level.isdisjoint({"avepoint_sandbox", "bench", "tests", "var", ".venv", ".git", "tools"})
    assert {"dags", "include", "plugins", "provider", "requirements.txt", "Dockerfile"} <= top_level


def test_the_dockerfile_installs_the_provider_non_editable(image):
    assert image["commands"], "the Dockerfile has no RUN pip install line"
    assert all("-e" not in argv and "--editable" not in argv for argv in image["commands"])
    assert [arg for argv in image["commands"] for arg in argv if arg.startswith("./")] == ["./provider"]


def test_the_dockerfile_install_adds_the_provider_and_changes_nothing_else(image):
    assert image["removed"] == set()
    assert image["added"] == {"airflow-provider-avepoint==1.0.0"}


def test_the_dag_folder_imports_without_errors(image):
    assert image["checked"]["import_errors"] == {}
    assert image["checked"]["dag_ids"] == [
        "avepoint_customer_onboarding",
        "avepoint_customer_reconciliation",
        "avepoint_welcome_customers",
    ]


def test_the_avepoint_connection_type_is_registered(image):
    assert "avepoint" in image["checked"]["connection_types"]


def test_the_provider_is_imported_from_site_packages(image):
    assert "/site-packages/avepoint_provider/" in image["checked"]["provider_file"]
