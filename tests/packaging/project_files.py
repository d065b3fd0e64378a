"""What the packaging tests read from the project's own files: one source for each fact."""

from __future__ import annotations

import re
import shlex

from tests.conftest import ROOT
from tools.dist import requirement_lines  # noqa: F401 (the packaging tests read requirement files with it)

MAKEFILE = ROOT / "Makefile"
DOCKERFILE = ROOT / "Dockerfile"
REQUIREMENTS = ROOT / "requirements.txt"
REQUIREMENTS_DEV = ROOT / "requirements-dev.txt"
REQUIREMENTS_MYSQL = ROOT / "requirements-mysql.txt"
REQUIREMENTS_LOCK = ROOT / "requirements-lock.txt"
DOCKERIGNORE = ROOT / ".dockerignore"
# The Astro Runtime image's ONBUILD requirements install refuses a requirements.txt with a line
# matching this (the image has Airflow already; the tests look for it anywhere in a line, stricter
# than a whole-line match). It is the image's rule, not astro-cli's (whose source has no such check):
# the team's measured notes quote it, and no test here can run the image.
ASTRO_REFUSED_LINE = re.compile(r"apache-airflow\s*[=~>]{1,2}.*")


def airflow_version() -> str:
    """The Airflow the Makefile pins (``AIRFLOW_VERSION := ...``)."""
    match = re.search(r"^AIRFLOW_VERSION\s*:?=\s*(\S+)\s*$", MAKEFILE.read_text(), re.MULTILINE)
    assert match, "Makefile has no AIRFLOW_VERSION := line"
    return match.group(1)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined, comments dropped."""
    joined, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    pairs = []
    for line in joined:
        instruction, _, arguments = line.partition(" ")
        pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def dockerfile_pip_installs() -> list[list[str]]:
    """The Dockerfile's ``RUN pip install ...`` commands, as argument lists."""
    commands = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "RUN":
            argv = shlex.split(arguments)
            if argv[:2] == ["pip", "install"]:
                commands.append(argv)
    return commands


def dockerfile_base_image() -> str:
    froms = [arguments for instruction, arguments in dockerfile_instructions() if instruction == "FROM"]
    assert len(froms) == 1, f"expected one FROM line, found {froms}"
    return froms[0]


def dockerfile_environment() -> dict[str, str]:
    """The variables the Dockerfile's ``ENV KEY=VALUE ...`` lines set."""
    env = {}
    for instruction, arguments in dockerfile_instructions():
        if instruction == "ENV":
            env |= dict(pair.split("=", 1) for pair in shlex.split(arguments))
    return env
