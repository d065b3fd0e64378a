"""`make dist`: the provider wheel, plugins.zip and requirements-mwaa.txt for MWAA."""

from __future__ import annotations

import zipfile

import pytest

from tests.conftest import ROOT
from tests.packaging.project_files import REQUIREMENTS, requirement_lines
from tools.dist import plugin_files

pytestmark = pytest.mark.packaging
WHEEL = "airflow_provider_avepoint-1.0.0-py3-none-any.whl"

# `dist` (tests/support/platform_venv.py): the script `make dist` runs, once per test run, into a
# temporary folder instead of the repo's dist/. test_platform.py replays MWAA's install of its
# requirements-mwaa.txt under the constraints MWAA forces.


def test_dist_holds_the_wheel_the_zip_and_the_mwaa_requirements(dist):
    assert sorted(path.name for path in dist.iterdir()) == sorted(
        [WHEEL, "plugins.zip", "requirements-mwaa.txt"]
    )


def test_the_wheel_carries_the_provider_its_data_and_its_entry_point(dist):
    with zipfile.ZipFile(dist / WHEEL) as wheel:
        files = set(wheel.namelist())
        entry_points = wheel.read("airflow_provider_avepoint-1.0.0.dist-info/entry_points.txt").decode()
    assert {
        "avepoint_provider/__init__.py",
        "avepoint_provider/hooks/avepoint.py",
        "avepoint_provider/operators/onboard.py",
        "avepoint_provider/countryorregion.json",
    } <= files
    # The provider knows no table: the pipeline's SQL stays in include/onboarding.
    assert not any(name.endswith(".sql") for name in files)
    assert not any("__pycache__" in name for name in files)
    assert "[apache_airflow_provider]\nprovider_info = avepoint_provider:get_provider_info" in entry_points


def test_plugins_zip_holds_the_wheel_and_the_plugins_files_at_its_root(dist):
    with zipfile.ZipFile(dist / "plugins.zip") as archive:
        names = sorted(archive.namelist())
    expected = [WHEEL, *(path.relative_to(ROOT / "plugins").as_posix() for path in plugin_files())]
    assert names == sorted(expected)
    assert "connection_test_port_fix.py" in names


def test_mwaa_requirements_are_the_runtime_requirements_and_the_wheel_in_the_plugins_folder(dist):
    lines = requirement_lines(dist / "requirements-mwaa.txt")
    assert lines == [*requirement_lines(REQUIREMENTS), f"/usr/local/airflow/plugins/{WHEEL}"]
