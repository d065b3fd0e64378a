"""Declared dependencies equal imported ones.

What a deployment runs (``dags/``, ``include/``, ``plugins/`` and the provider) may import only what
``requirements.txt`` (with ``requirements-mysql.txt``, which a MySQL deployment appends to it) or the
provider's ``pyproject.toml`` declares, and every line there is imported
somewhere, or named below with the reason Airflow loads it without an import. Import names are
mapped to distributions with ``importlib.metadata.packages_distributions()``.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterable
from functools import cache
from importlib.metadata import distribution, distributions, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

PROVIDER_SOURCE = ROOT / "provider" / "avepoint_provider"
RUNTIME_SOURCES = (ROOT / "dags", ROOT / "include", ROOT / "plugins", PROVIDER_SOURCE)
# This project's own import names: the packages, and the plugins folder's modules, which Airflow
# puts on sys.path.
FIRST_PARTY = {"dags", "include", "avepoint_provider", "plugins"} | {
    path.stem for path in (ROOT / "plugins").glob("*.py")
}
# Airflow itself is pinned in the Makefile (AIRFLOW_VERSION), not in requirements.txt (Astro refuses
# a requirements file that pins it); the provider requires it in its pyproject.
AIRFLOW = "apache-airflow"
# Declared, and needed, but imported by no module of the project: Airflow loads them by name.
LOADED_BY_AIRFLOW = {
    "apache-airflow-providers-common-sql": "the SQL hooks behind the customer_warehouse connection",
    "apache-airflow-providers-sqlite": "the sqlite connection type of customer_warehouse (conn.get_hook())",
    "apache-airflow-providers-postgres": "the postgres connection type of customer_warehouse (conn.get_hook())",
    "psycopg": "the PostgreSQL driver SQLAlchemy loads for a postgresql+psycopg URL",
    "apache-airflow-providers-mysql": "the mysql connection type of customer_warehouse (conn.get_hook())",
    "mysqlclient": "the MySQL driver SQLAlchemy loads (MySQLdb) for the mysql provider's mysql:// URL",
    "apache-airflow-providers-snowflake": "the snowflake connection type of customer_warehouse (conn.get_hook())",
    "snowflake-connector-python": "the Snowflake driver under the snowflake provider's hook and SQLAlchemy dialect",
    "snowflake-sqlalchemy": "the SQLAlchemy dialect the snowflake provider's get_sqlalchemy_engine() loads",
}


def imported_modules(folders: Iterable[Path]) -> dict[str, set[str]]:
    """Absolute import names of every ``.py`` file under ``folders`` (imports inside functions
    included: a task-time import is a dependency too), each with the files that import it.
    """
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


@cache
def installed() -> frozenset[str]:
    return frozenset(canonicalize_name(dist.metadata["Name"]) for dist in distributions())


@cache
def _top_level_names() -> dict[str, list[str]]:
    return packages_distributions()


def distribution_of(module: str) -> str | None:
    """The distribution that installs ``module``; None for the standard library and the project."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top in FIRST_PARTY or top == "__future__":
        return None
    parts = module.split(".")
    if top == "airflow":
        # Every provider installs into the airflow namespace: airflow.providers.common.sql is
        # apache-airflow-providers-common-sql. The rest of the namespace is Airflow itself.
        if len(parts) > 2 and parts[1] == "providers":
            for end in range(len(parts), 2, -1):
                name = canonicalize_name("apache-airflow-providers-" + "-".join(parts[2:end]))
                if name in installed():
                    return name
            raise AssertionError(f"no installed provider distribution holds {module}")
        return AIRFLOW
    dists = _top_level_names().get(top)
    assert dists, f"{module} is imported but no installed distribution provides it"
    assert len(set(dists)) == 1, f"{module} is provided by several distributions: {dists}"
    return canonicalize_name(dists[0])


def imported_distributions(folders: Iterable[Path]) -> dict[str, set[str]]:
    """Distribution -> the files whose imports need it."""
    needed: dict[str, set[str]] = {}
    for module, files in imported_modules(folders).items():
        name = distribution_of(module)
        if name is not None:
            needed.setdefault(name, set()).update(files)
    return needed


def requirement_names(lines: Iterable[str]) -> set[str]:
    names = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(canonicalize_name(Requirement(line).name))
    return names


def requirements_txt() -> set[str]:
    """requirements.txt and requirements-mysql.txt: what a deployment may install."""
    return (
        requirement_names((ROOT / "requirements.txt").read_text("utf-8").splitlines()) | mysql_requirements()
    )


def mysql_requirements() -> set[str]:
    return requirement_names((ROOT / "requirements-mysql.txt").read_text("utf-8").splitlines())


def provider_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "provider" / "pyproject.toml").read_text("utf-8"))["project"]
    return requirement_names(project["dependencies"])


@cache
def supplied_by_airflow() -> frozenset[str]:
    """What the pinned Airflow itself requires (core and task SDK). Every platform installs these
    with its Airflow and pins them in its constraints (MWAA refuses overrides of some, e.g.
    SQLAlchemy), so the project imports them (pendulum for start dates, SQLAlchemy for the warehouse)
    without pinning them again.
    """
    names = set()
    for dist in ("apache-airflow-core", "apache-airflow-task-sdk"):
        for line in requires(dist) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                names.add(canonicalize_name(requirement.name))
    return frozenset(names)


def mismatches(
    needed: dict[str, set[str]], declared: set[str], unused: set[str], where: str
) -> dict[str, str]:
    """Each distribution imported but not declared (nor supplied by Airflow), and each in ``unused``,
    with what is wrong with it.
    """
    problems = {
        name: f"imported by {', '.join(sorted(files))}, not declared in {where}"
        for name, files in sorted(needed.items())
        if name not in declared and name not in supplied_by_airflow()
    }
    return problems | {name: f"declared in {where}, imported nowhere" for name in sorted(unused)}


def test_the_provider_declares_what_it_imports_and_imports_what_it_declares():
    needed = imported_distributions([PROVIDER_SOURCE])
    declared = provider_dependencies()
    assert mismatches(needed, declared, declared - set(needed), "provider/pyproject.toml") == {}


def test_requirements_txt_declares_what_deployments_import_and_imports_what_it_declares():
    needed = imported_distributions(RUNTIME_SOURCES)
    declared = requirements_txt() | provider_dependencies()
    unused = requirements_txt() - set(needed) - set(LOADED_BY_AIRFLOW)
    assert mismatches(needed, declared, unused, "requirements.txt (or the provider's pyproject.toml)") == {}


def test_what_airflow_loads_by_name_is_declared_and_not_imported():
    """The exceptions above stay true: each is pinned, installed, and still imported by nothing."""
    needed = imported_distributions(RUNTIME_SOURCES)
    for name, reason in LOADED_BY_AIRFLOW.items():
        assert name in requirements_txt(), f"{name} ({reason}) is no longer in requirements.txt"
        # make install goes on without requirements-mysql.txt where mysqlclient cannot build.
        if name not in mysql_requirements() or "mysqlclient" in installed():
            assert distribution(name).version, name
        assert name not in needed, (
            f"{name} is imported by {sorted(needed[name])}: drop it from LOADED_BY_AIRFLOW"
        )
