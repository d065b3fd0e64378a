"""The provider as someone else installs it: the wheel of ``./provider`` (as ``make dist`` builds
it) onto an image that holds Airflow 3.3.1 and the HTTP provider (the shared platform virtualenv,
tests/support/platform_venv.py), without this project's code on the path.

What the wheel alone adds to that image comes from a dry run on it. In the venv, with its own
Python and ``airflow`` command, against a sandbox started by this test process: Airflow registers
the ``avepoint`` connection type, the hook onboards a customer, and the example DAG runs from the
installed package. Importing any of it never imports ``include`` (this project's code) or any of
the common-sql provider. (common-sql is installed all the same: ``apache-airflow`` itself requires it.)
"""

from __future__ import annotations

import json
import time
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import avepoint_provider
from tests.conftest import ROOT, avepoint_connection
from tests.support.reference import EAST_US
from tests.support.venv import run

pytestmark = pytest.mark.packaging

DAG_ID = "example_avepoint_onboard_customer"
HOOK_ACCOUNT = "hook@installed.example"
DAG_ACCOUNT = "dag@installed.example"
DAG_PASSWORD = "Installed-Dag-Secret-Pw-5!"

# Imports every module of the installed package, then reports what that pulled in.
IMPORT_ALL = """
import importlib, importlib.metadata, json, pkgutil, sys

import airflow  # Airflow's own configuration loads every installed provider's info, common-sql's too
airflow_loaded = set(sys.modules)
import avepoint_provider
from airflow.providers_manager import ProvidersManager

modules = sorted(m.name for m in pkgutil.walk_packages(avepoint_provider.__path__, "avepoint_provider."))
for name in modules:
    importlib.import_module(name)
# Before ProvidersManager, which reads every installed provider's info (common-sql's too).
include_modules = sorted(m for m in sys.modules if m == "include" or m.startswith("include."))
common_sql_modules = sorted(
    m for m in set(sys.modules) - airflow_loaded if m.startswith("airflow.providers.common.sql")
)
types = [m.connection_type for m in ProvidersManager().iter_connection_type_hook_ui_metadata()]
print(json.dumps({
    "modules": modules,
    "package_dir": avepoint_provider.__path__[0],
    "include_modules": include_modules,
    "common_sql_modules": common_sql_modules,
    "connection_types": types,
    "requires": importlib.metadata.requires("airflow-provider-avepoint"),
}))
"""
# The hook from the installed package onboards one customer through AIRFLOW_CONN_AVEPOINT_DEFAULT.
ONBOARD_WITH_HOOK = f"""
import json
import zipfile
from email.parser import Parser
from avepoint_provider.customer import Customer
from avepoint_provider.hooks.avepoint import AvePointHook

hook = AvePointHook("avepoint_default")
response = hook.onboard_customer(Customer(
    first_name="Hook", last_name="User", organization_name="Installed Ltd",
    registration_account={HOOK_ACCOUNT!r}, country_code="US", data_center={EAST_US!r},
    password="Installed-Hook-Secret-Pw-4!",
))
print(json.dumps({{"response": response.to_dict(), "test_connection": hook.test_connection()}}))
"""


@pytest.fixture(scope="module")
def venv(platform_venv):
    """The shared platform venv, with no project folder on PYTHONPATH; what the wheel alone adds."""
    env = platform_venv.env | {
        # A failing task in `airflow dags test` would otherwise sleep through the DAG's retry delay.
        "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "0",
    }
    cwd = platform_venv.root
    imported = json.loads(run(["python", "-c", IMPORT_ALL], env=env, cwd=cwd).splitlines()[-1])
    return {"env": env, "cwd": cwd, "added": set(platform_venv.provider_alone), "imported": imported}


def test_the_wheel_is_publishable(provider_wheel):
    """What an index shows: README as the description, the licence, classifiers, URLs, one version."""
    with zipfile.ZipFile(provider_wheel) as wheel:
        dist_info = f"airflow_provider_avepoint-{avepoint_provider.__version__}.dist-info"
        metadata = Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
        licence = wheel.read(f"{dist_info}/licenses/LICENSE").decode()
    assert metadata["Version"] == avepoint_provider.__version__
    assert metadata["License-Expression"] == "Apache-2.0" and "Apache License" in licence
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().strip() == (ROOT / "provider" / "README.md").read_text().strip()
    classifiers = metadata.get_all("Classifier")
    assert {"Framework :: Apache Airflow", "Framework :: Apache Airflow :: Provider"} <= set(classifiers)
    assert all(url.split(", ")[1].startswith("https://") for url in metadata.get_all("Project-URL"))


def test_the_install_adds_only_the_provider_and_what_it_declares(venv):
    names = {item.split("==")[0].lower() for item in venv["added"]}
    assert "airflow-provider-avepoint" in names
    # requests, tenacity and PyJWT[crypto] may already be there with Airflow; nothing else may come.
    assert names <= {"airflow-provider-avepoint", "pyjwt", "cryptography", "cffi", "pycparser", "tenacity"}


def test_the_package_holds_the_stores_and_the_example_dag(venv):
    modules = venv["imported"]["modules"]
    assert "avepoint_provider.stores.variable" in modules
    assert "avepoint_provider.example_dags.example_avepoint_onboard_customer" in modules
    assert "/site-packages/avepoint_provider" in venv["imported"]["package_dir"]


def test_importing_the_provider_imports_neither_include_nor_common_sql(venv):
    assert venv["imported"]["include_modules"] == []
    # Beyond the get_provider_info that `import airflow` itself reads: apache-airflow 3.3.2
    # requires common-sql, so it is installed, but nothing of the provider uses it.
    assert venv["imported"]["common_sql_modules"] == []


def test_the_provider_declares_no_common_sql_dependency(venv):
    from packaging.requirements import Requirement

    requires = venv["imported"]["requires"]
    assert "apache-airflow-providers-http" in {Requirement(r).name for r in requires}
    assert not [r for r in requires if "common-sql" in r or "common_sql" in r]


def test_the_avepoint_connection_type_is_registered(venv):
    assert "avepoint" in venv["imported"]["connection_types"]


def test_the_installed_hook_onboards_a_customer(venv, sandbox):
    env = venv["env"] | {"AIRFLOW_CONN_AVEPOINT_DEFAULT": json.dumps(avepoint_connection(sandbox.server))}
    started = time.monotonic()
    result = json.loads(run(["python", "-c", ONBOARD_WITH_HOOK], env=env, cwd=venv["cwd"]).splitlines()[-1])
    print(f"[packaging] hook onboarding in the venv: {time.monotonic() - started:.1f} s")
    assert result["response"]["api_status"] == 1
    assert result["test_connection"][0] is True
    assert sandbox.inspect()["creations_per_account"] == {HOOK_ACCOUNT: 1}


def test_the_installed_example_dag_onboards_its_customer_once(venv, sandbox):
    params = {
        "first_name": "Dag",
        "last_name": "User",
        "organization_name": "Installed Ltd",
        "registration_account": DAG_ACCOUNT,
        "country_code": "US",
        "data_center": EAST_US,
    }
    env = venv["env"] | {
        "AIRFLOW__CORE__DAGS_FOLDER": str(Path(venv["imported"]["package_dir"]) / "example_dags"),
        "AIRFLOW_CONN_AVEPOINT_DEFAULT": json.dumps(avepoint_connection(sandbox.server)),
        "AIRFLOW_CONN_AVEPOINT_CUSTOMER_PASSWORD": json.dumps(
            {"conn_type": "generic", "password": DAG_PASSWORD}
        ),
    }
    started = time.monotonic()
    output = run(["airflow", "dags", "test", DAG_ID, "--conf", json.dumps(params)], env=env, cwd=venv["cwd"])
    print(f"[packaging] airflow dags test in the venv: {time.monotonic() - started:.1f} s")
    assert "Customer dag@installed.example (Installed Ltd): attempt 1 of 5" in output  # task logs are here
    assert "Outcome for customer dag@installed.example: onboarded" in output
    assert DAG_PASSWORD not in output
    assert sandbox.inspect()["creations_per_account"] == {DAG_ACCOUNT: 1}


def test_twine_check_passes_on_the_wheel(provider_wheel):
    """What PyPI's upload checks: the long description renders and the metadata is complete."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(provider_wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout
