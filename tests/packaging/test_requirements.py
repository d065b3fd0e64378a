"""requirements.txt is what a deployment installs; the Makefile adds Airflow, the dev tools and the provider."""

from __future__ import annotations

import re

from tests.conftest import ROOT
from tests.packaging.project_files import (
    ASTRO_REFUSED_LINE,
    MAKEFILE,
    REQUIREMENTS,
    REQUIREMENTS_DEV,
    airflow_version,
    dockerfile_base_image,
    requirement_lines,
)

# Which Airflow each Astro Runtime build runs (Astronomer's runtime catalog: 3.3-7 is 3.3.1, 3.3-8 is
# 3.3.2). Add a row when the Dockerfile moves to another build.
ASTRO_RUNTIME_AIRFLOW = {"3.3-8": "3.3.2"}
PIN = re.compile(r"^[A-Za-z0-9._-]+(\[[A-Za-z0-9_,-]+\])?==[A-Za-z0-9.+!-]+$")


def names(lines: list[str]) -> set[str]:
    return {re.split(r"[\[=]", line, maxsplit=1)[0].lower().replace("_", "-") for line in lines}


def test_requirements_have_no_line_astro_refuses():
    offending = [line for line in REQUIREMENTS.read_text().splitlines() if ASTRO_REFUSED_LINE.search(line)]
    assert offending == []


def test_requirements_have_no_editable_or_path_lines():
    # Astro installs requirements.txt before it copies the project, so a path cannot resolve there.
    offending = [
        line
        for line in requirement_lines(REQUIREMENTS)
        if line.startswith(("-", ".", "/", "~")) or "/" in line or "file:" in line
    ]
    assert offending == []


def test_every_requirement_is_pinned_to_one_version():
    for path in (REQUIREMENTS, REQUIREMENTS_DEV):
        unpinned = [line for line in requirement_lines(path) if not PIN.match(line)]
        assert unpinned == [], f"{path.name}: {unpinned}"


def test_dev_tools_are_not_runtime_requirements():
    runtime, dev = names(requirement_lines(REQUIREMENTS)), names(requirement_lines(REQUIREMENTS_DEV))
    assert runtime & dev == set()
    assert {"pytest", "pytest-timeout", "ruff", "playwright", "psutil"} <= dev
    assert {"pytest", "pytest-timeout", "ruff", "playwright", "psutil"} & runtime == set()


def test_the_install_stamp_depends_on_every_requirement_file():
    match = re.search(r"^\$\(INSTALLED\):(.*)$", MAKEFILE.read_text(), re.MULTILINE)
    assert match, "Makefile has no $(INSTALLED) rule"
    assert set(match.group(1).split()) >= {
        "requirements.txt",
        "requirements-dev.txt",
        "provider/pyproject.toml",
    }


def test_the_makefile_installs_airflow_requirements_dev_tools_and_the_editable_provider():
    recipe = MAKEFILE.read_text().split("$(INSTALLED):", 1)[1].split("\n\n", 1)[0]
    for part in (
        "apache-airflow==$(AIRFLOW_VERSION)",
        "-r requirements.txt",
        "-r requirements-dev.txt",
        "-e ./provider",
    ):
        assert part in recipe


def test_the_installed_airflow_is_the_makefile_pin():
    from importlib.metadata import version

    assert version("apache-airflow") == airflow_version()


def test_the_dockerfile_runtime_runs_the_pinned_airflow():
    image = dockerfile_base_image()
    match = re.fullmatch(r"astrocrpublic\.azurecr\.io/runtime:(\d+\.\d+-\d+)(-python-3\.\d+)?", image)
    assert match, f"FROM {image} is not an Astro Runtime 3 image tag"
    assert ASTRO_RUNTIME_AIRFLOW.get(match.group(1)) == airflow_version()


def test_packages_txt_lists_only_comments_or_package_names():
    lines = requirement_lines(ROOT / "packages.txt")
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", line) for line in lines), lines
