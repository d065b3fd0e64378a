"""requirements.txt is what a deployment installs, as ranges (requirements-mysql.txt too, for a MySQL
warehouse); requirements-lock.txt is what `make` installs, exactly; the Makefile adds Airflow, the dev
tools and the provider."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import distributions, version

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT
from tests.packaging.project_files import (
    ASTRO_REFUSED_LINE,
    MAKEFILE,
    REQUIREMENTS,
    REQUIREMENTS_DEV,
    REQUIREMENTS_LOCK,
    REQUIREMENTS_MYSQL,
    airflow_version,
    requirement_lines,
)
from tests.support.platform_venv import CONSTRAINTS
from tests.support.venv import PIP_VERSION

DEV_TOOLS = {"pytest", "pytest-timeout", "ruff", "playwright", "psutil", "aiosmtpd", "twine"}
# The local cluster's executor and broker: never a deployment's (MWAA never lets a user override them).
CLUSTER_ONLY = {"apache-airflow-providers-celery", "celery", "kombu", "redis"}
# What requirements-mysql.txt brings: absent from .venv where MariaDB's client headers are (make
# install says so and goes on); under CI=true `make test` fails before pytest if they could not build.
MYSQL_ONLY = {
    "apache-airflow-providers-mysql",
    "mysqlclient",
    "mysql-connector-python",
    "aiomysql",
    "pymysql",
}


def requirements(path) -> list[Requirement]:
    return [Requirement(line) for line in requirement_lines(path)]


def names(path) -> set[str]:
    return {canonicalize_name(req.name) for req in requirements(path)}


def pins(path) -> dict[str, str]:
    """name -> version of a file of ``name==version`` lines."""
    found = {}
    for line in requirement_lines(path):
        name, _, pinned = line.partition("==")
        assert pinned and not re.search(r"[<>=!~;@ ]", pinned), f"{path.name}: {line!r} is not name==version"
        assert canonicalize_name(name) not in found, f"{path.name} pins {name} twice"
        found[canonicalize_name(name)] = pinned
    return found


def provider_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "provider" / "pyproject.toml").read_text())["project"]
    return [Requirement(line) for line in project["dependencies"]]


def test_requirements_have_no_line_astro_refuses():
    for path in (REQUIREMENTS, REQUIREMENTS_MYSQL):  # a MySQL deployment appends the second
        offending = [line for line in path.read_text().splitlines() if ASTRO_REFUSED_LINE.search(line)]
        assert offending == [], path.name


def test_requirements_have_no_editable_or_path_lines():
    # Astro installs requirements.txt before it copies the project, so a path cannot resolve there.
    offending = [
        line
        for line in [*requirement_lines(REQUIREMENTS), *requirement_lines(REQUIREMENTS_MYSQL)]
        if line.startswith(("-", ".", "/", "~")) or "/" in line or "file:" in line
    ]
    assert offending == []


def test_every_requirement_is_a_range_with_a_lower_and_an_upper_bound():
    for path in (REQUIREMENTS, REQUIREMENTS_MYSQL, REQUIREMENTS_DEV):
        for req in requirements(path):
            operators = {spec.operator for spec in req.specifier}
            assert operators == {">=", "<"}, f"{path.name}: {req} is not a >=lower,<upper range"


def test_each_lower_bound_the_platform_constraints_name_is_their_version():
    """The oldest version each range allows is the one the platform venv runs (constraints/)."""
    constrained = pins(CONSTRAINTS)
    for req in [*requirements(REQUIREMENTS), *requirements(REQUIREMENTS_MYSQL)]:
        lower = next(spec.version for spec in req.specifier if spec.operator == ">=")
        name = canonicalize_name(req.name)
        if name in constrained:
            assert lower == constrained[name], f"{req}: Airflow 3.3.1's constraints pin {constrained[name]}"


def test_the_lock_pins_one_version_of_everything_within_every_range():
    locked = pins(REQUIREMENTS_LOCK)
    every = [REQUIREMENTS, REQUIREMENTS_MYSQL, REQUIREMENTS_DEV]
    for req in [*(req for path in every for req in requirements(path)), *provider_requirements()]:
        name = canonicalize_name(req.name)
        assert name in locked, f"requirements-lock.txt has no {req.name}"
        assert req.specifier.contains(locked[name], prereleases=True), f"lock {locked[name]} is outside {req}"
    assert locked["apache-airflow"] == airflow_version()
    assert "airflow-provider-avepoint" not in locked  # make installs it editable from ./provider


def test_the_venv_holds_the_locked_versions():
    """What `make install` put in .venv is the lock, so every machine tests the same versions (without
    requirements-mysql.txt's packages where they could not build: then none of them is there)."""
    present = {canonicalize_name(dist.metadata["Name"]): dist.version for dist in distributions()}
    mysql_skipped = "mysqlclient" not in present  # make install goes on when it cannot build
    differing = {
        name: (v, present.get(name))
        for name, v in pins(REQUIREMENTS_LOCK).items()
        if present.get(name) != v and not (mysql_skipped and name in MYSQL_ONLY and name not in present)
    }
    assert differing == {}


def test_requirements_txt_needs_no_compiler_the_mysql_driver_is_its_own_file():
    """A fresh clone installs with Python and make alone: mysqlclient, which builds from source
    against MariaDB's headers, is only in requirements-mysql.txt, with the mysql provider needing it."""
    assert names(REQUIREMENTS) & MYSQL_ONLY == set()
    assert names(REQUIREMENTS_MYSQL) == {"apache-airflow-providers-mysql", "mysqlclient"}
    recipe = MAKEFILE.read_text().split("$(MYSQL_INSTALLED):", 1)[1].split("\n\n", 1)[0]
    assert "-r requirements-mysql.txt" in recipe and "-c requirements-lock.txt" in recipe
    for target in ("install", "test", "check"):
        rule = re.search(rf"^{target}:(.*)$", MAKEFILE.read_text(), re.MULTILINE)
        assert rule and "$(MYSQL_INSTALLED)" in rule.group(1).split(), target


def test_the_cluster_s_executor_and_broker_are_not_runtime_requirements():
    assert names(REQUIREMENTS) & CLUSTER_ONLY == set()
    assert names(REQUIREMENTS_DEV) >= CLUSTER_ONLY


def test_dev_tools_are_not_runtime_requirements():
    runtime, dev = names(REQUIREMENTS), names(REQUIREMENTS_DEV)
    assert runtime & dev == set()
    assert dev >= DEV_TOOLS
    assert runtime & DEV_TOOLS == set()


def test_the_install_stamp_depends_on_every_requirement_file():
    match = re.search(r"^\$\(INSTALLED\):(.*)$", MAKEFILE.read_text(), re.MULTILINE)
    assert match, "Makefile has no $(INSTALLED) rule"
    assert set(match.group(1).split()) >= {
        "requirements.txt",
        "requirements-dev.txt",
        "requirements-lock.txt",
        "provider/pyproject.toml",
    }


def test_the_makefile_installs_airflow_requirements_dev_tools_and_the_editable_provider_from_the_lock():
    recipe = MAKEFILE.read_text().split("$(INSTALLED):", 1)[1].split("\n\n", 1)[0]
    for part in (
        "apache-airflow==$(AIRFLOW_VERSION)",
        "-r requirements.txt",
        "-r requirements-dev.txt",
        "-e ./provider",
        "-c requirements-lock.txt",
    ):
        assert part in recipe


def test_the_installed_airflow_is_the_makefile_pin():
    assert version("apache-airflow") == airflow_version()


def test_the_test_venvs_use_the_makefile_s_pip():
    match = re.search(r"^PIP_VERSION\s*:?=\s*(\S+)\s*$", MAKEFILE.read_text(), re.MULTILINE)
    assert match and match.group(1) == PIP_VERSION


def test_packages_txt_lists_only_comments_or_package_names():
    lines = requirement_lines(ROOT / "packages.txt")
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", line) for line in lines), lines
