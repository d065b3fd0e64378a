"""The .dockerignore reader follows Docker's rules, and the project's file leaves out the dev tools."""

from __future__ import annotations

import pytest

from tests.packaging.project_files import DOCKERIGNORE
from tests.support.dockerignore import DockerIgnore

PROJECT = DockerIgnore.from_file(DOCKERIGNORE)


def test_patterns_are_anchored_at_the_context_root():
    rules = DockerIgnore("var/\n")
    assert rules.ignored("var/warehouse.db")
    assert not rules.ignored("include/var/x.py")


def test_double_star_matches_at_any_depth():
    rules = DockerIgnore("**/__pycache__/\n")
    assert rules.ignored("__pycache__/a.pyc")
    assert rules.ignored("provider/avepoint_provider/__pycache__/a.pyc")
    assert not rules.ignored("provider/avepoint_provider/hooks/avepoint.py")


def test_single_star_stays_within_one_folder():
    rules = DockerIgnore("include/*.py\n")
    assert rules.ignored("include/local_airflow.py")
    assert not rules.ignored("include/onboarding/rules.py")


def test_a_later_exclamation_mark_takes_a_path_back():
    rules = DockerIgnore("docs/\n!docs/DEPLOY.md\n")
    assert rules.ignored("docs/RELIABILITY.md")
    assert not rules.ignored("docs/DEPLOY.md")


@pytest.mark.parametrize(
    "path",
    [
        "avepoint_sandbox/__init__.py",
        "bench/__main__.py",
        "tests/conftest.py",
        "tools/dist.py",
        "tools/demo/__main__.py",
        "tools/local_airflow.py",
        "tools/local_cluster.py",
        "tools/airflow_settings.py",
        "var/warehouse.db",
        "data/warehouse.db",
        "data/warehouse.db-journal",
        "constraints/airflow-3.3.1-python-3.12.txt",
        ".venv/bin/python",
        ".git",
        "airflow_settings.yaml",
    ],
)
def test_the_project_leaves_out(path):
    assert PROJECT.ignored(path)


@pytest.mark.parametrize(
    "path",
    [
        "dags/avepoint_customer_onboarding.py",
        "include/onboarding/pipeline.py",
        "plugins/connection_test_port_fix.py",
        "provider/pyproject.toml",
        "provider/avepoint_provider/hooks/avepoint.py",
        "requirements.txt",
        "packages.txt",
        "Dockerfile",
        "data/README.md",
    ],
)
def test_the_project_ships(path):
    assert not PROJECT.ignored(path)


def test_everything_under_include_ships_without_carve_outs():
    """include/ holds only what a deployment runs: the development tools live under tools/."""
    from tests.packaging.project_files import ROOT

    shipped = [p.relative_to(ROOT).as_posix() for p in (ROOT / "include").rglob("*") if p.is_file()]
    assert shipped
    assert [p for p in shipped if PROJECT.ignored(p) and "__pycache__" not in p] == []
    assert "include" not in DOCKERIGNORE.read_text()
