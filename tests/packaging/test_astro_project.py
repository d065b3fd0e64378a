"""The repository is an Astro project `astro dev start` can run from a clone, by astro-cli's own rules.

There is no Docker engine here: these replay what astro-cli (github.com/astronomer/astro-cli) reads
— its project check (config/config.go ``IsProjectDir``: ``.astro/config.yaml`` exists), the project
name rule of ``astro dev init`` (cmd/airflow.go), the compose project it generates
(airflow/include/airflow3/composeyml.go.tmpl: services ``api-server``, ``scheduler``, ... on the
network ``airflow``, the project folder mounted only as dags/, plugins/, include/, tests/) and the
``docker-compose.override.yml`` it merges in (airflow/docker.go) — and run the override's sandbox
service on a venv holding what the Runtime image holds. Building and starting the containers is
not tested here (docs/DEPLOY.md).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

from tests.conftest import ROOT
from tests.packaging.project_files import DOCKERIGNORE, dockerfile_base_image
from tests.support.astro import SANDBOX_SERVICE, override, sandbox_service
from tests.support.dockerignore import DockerIgnore
from tests.support.platform_venv import PLATFORM_AIRFLOW, PlatformVenv

# Which Airflow each Astro Runtime build runs (Astronomer's Runtime release notes,
# https://www.astronomer.io/docs/runtime/runtime-release-notes). Add a row when the Dockerfile moves.
RUNTIME_AIRFLOW = {"3.3-7": "3.3.1", "3.3-8": "3.3.2"}
RUNTIME_IMAGE = re.compile(r"astrocrpublic\.azurecr\.io/runtime:(\d+\.\d+-\d+)-python-(3\.\d+)")
# astro-cli's `astro dev init` project name rule, and the names its compose template gives.
# (Go: `^(?i)[a-z0-9]([a-z0-9_-]*[a-z0-9])$`; Python wants the flag first.)
PROJECT_NAME = re.compile(r"(?i)^[a-z0-9]([a-z0-9_-]*[a-z0-9])$")
ASTRO_NETWORK = "airflow"
ASTRO_API_SERVER = "http://api-server:8080"
# What astro-cli mounts from the project into its Airflow containers (the rest comes from the image).
ASTRO_MOUNTED = {"dags", "plugins", "include", "tests"}
PROJECT = DockerIgnore.from_file(DOCKERIGNORE)


def connections() -> dict[str, dict]:
    settings = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text())["airflow"]
    return {conn["conn_id"]: conn for conn in settings["connections"]}


def sandbox_address() -> str:
    """http://<service>:<port> of the override's sandbox on astro-cli's network."""
    command = sandbox_service()["command"]
    return f"http://{SANDBOX_SERVICE}:{command[command.index('--port') + 1]}"


def test_the_project_check_finds_astro_config_with_a_valid_project_name():
    config = yaml.safe_load((ROOT / ".astro" / "config.yaml").read_text())
    assert PROJECT_NAME.match(config["project"]["name"])


def test_the_runtime_image_runs_the_platform_s_airflow_on_python_3_12():
    match = RUNTIME_IMAGE.fullmatch(dockerfile_base_image())
    assert match, f"FROM {dockerfile_base_image()} is not an Astro Runtime 3 image with a -python- tag"
    assert RUNTIME_AIRFLOW.get(match.group(1)) == PLATFORM_AIRFLOW
    assert match.group(2) == "3.12"


def test_the_override_runs_the_sandbox_from_the_runtime_image_on_astro_s_network():
    service = sandbox_service()
    assert set(override()) == {"services"}
    assert service["image"] == dockerfile_base_image()
    assert service["networks"] == [ASTRO_NETWORK]


def test_the_override_mounts_the_sandbox_folders_the_image_leaves_out():
    mounts = [volume.split(":") for volume in sandbox_service()["volumes"]]
    for source, _target, mode in mounts:
        assert source.startswith("./") and (ROOT / source).is_dir(), source
        assert mode == "ro"
    assert {source.removeprefix("./") for source, _, _ in mounts} == {"avepoint_sandbox", "provider"}
    assert PROJECT.ignored("avepoint_sandbox/__main__.py")


def test_avepoint_default_points_at_the_sandbox_service():
    conn = connections()["avepoint_default"]
    assert conn["conn_host"] == sandbox_address()
    token_url = urlsplit(conn["conn_extra"]["token_url"])
    assert f"{token_url.scheme}://{token_url.netloc}" == sandbox_address()


def test_airflow_api_points_at_astro_s_api_server():
    assert connections()["airflow_api"]["conn_host"] == ASTRO_API_SERVER


def test_the_warehouse_lives_in_a_project_folder_the_image_keeps():
    host = PurePosixPath(connections()["customer_warehouse"]["conn_host"])
    assert not host.is_absolute()
    folder = host.parent.as_posix()
    # The folder ships in the image (a file in it is copied; var/ is not) and is not one astro-cli
    # mounts from the host, where the image's `astro` user may not write; the database never ships.
    assert (ROOT / folder).is_dir() and any(
        not PROJECT.ignored(p.relative_to(ROOT).as_posix()) for p in (ROOT / folder).iterdir()
    )
    assert folder.split("/")[0] not in ASTRO_MOUNTED | {"var"}
    assert PROJECT.ignored(host.as_posix())


@pytest.mark.packaging
def test_the_override_s_sandbox_runs_on_the_stock_image_and_takes_the_settings_credentials(
    platform_venv: PlatformVenv,
):
    # Run before requirements.txt or the provider were installed: the stock image's packages only.
    assert platform_venv.sandbox_token["status"] == 200
    assert "access_token" in platform_venv.sandbox_token["fields"]
