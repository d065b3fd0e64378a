"""Scenarios 1 and 2: what the DAG file costs the scheduler's parse loop.

Each load happens in a fresh Python process, as the dag-processor parses a file in a fresh
child: that process first imports what every DAG file needs and the dag-processor already has
loaded (``airflow.sdk`` and ``DagBag``), then times ``DagBag(dag_folder=<file>)`` alone. The
baseline is the no-op twin (same tasks, mapping and params; imports nothing from the project).
The same process of the real DAG also lists the heavy modules it left in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, Result, alternate, bench_env, median, spread
from bench.twin import REAL_DAG_FILE, write_dags_folder

HEAVY_MODULES = ("great_expectations", "pandas")
PARSE_TARGET = 1.15
_MARKER = "BENCH_PARSE="

_PROBE = f"""
import json, sys, time
from airflow.sdk import BaseOperator, Param, TriggerRule, dag, task  # loaded in any dag-processor
from airflow.dag_processing.dagbag import DagBag

start = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - start
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({list(HEAVY_MODULES)!r}))
print({_MARKER!r} + json.dumps({{"seconds": seconds, "dags": bag.dag_ids, "errors": {{str(k): str(v)
      for k, v in bag.import_errors.items()}}, "heavy": heavy}}), flush=True)
"""


def load_in_fresh_process(dag_file: Path) -> dict[str, Any]:
    """Load one DAG file with ``DagBag`` in a new interpreter; its timing and heavy imports."""
    result = subprocess.run(
        [PYTHON, "-c", _PROBE, str(dag_file)],
        cwd=ROOT,
        env=bench_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    for line in result.stdout.splitlines():
        if line.startswith(_MARKER):
            data = json.loads(line[len(_MARKER) :])
            if data["errors"] or len(data["dags"]) != 1:
                raise RuntimeError(f"{dag_file.name} did not load cleanly: {data}")
            return data
    raise RuntimeError(f"loading {dag_file.name} failed ({result.returncode}):\n{result.stderr[-3000:]}")


def run(*, repeat: int, enforce: bool, warm: bool = True) -> list[Result]:
    """Scenario 1 (parse time ratio to the twin) and scenario 2 (no heavy import at parse time)."""
    heavy: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as tmp:
        twin_file = next(write_dags_folder(Path(tmp), with_real=False).glob("*.py"))

        def project(_: int) -> float:
            data = load_in_fresh_process(REAL_DAG_FILE)
            heavy.update(data["heavy"])
            return data["seconds"]

        def baseline(_: int) -> float:
            return load_in_fresh_process(twin_file)["seconds"]

        # One untimed load each first: Python writes the bytecode cache, as a running scheduler has it.
        if warm:
            load_in_fresh_process(REAL_DAG_FILE)
            load_in_fresh_process(twin_file)
        ours, theirs = alternate(repeat, project, baseline)
    parse = Result(
        1,
        "DAG file parse time (`DagBag`, fresh process each)",
        "1 DAG file",
        median(ours) * 1000,
        median(theirs) * 1000,
        "ms",
        f"<= {PARSE_TARGET}x",
        limit=PARSE_TARGET,
        notes=[
            f"{repeat} fresh processes each, alternating; project {spread(ours, 'ms')}, "
            f"no-op twin {spread(theirs, 'ms')}",
        ],
    )
    imports = Result(
        2,
        "loading the DAG file imports neither great_expectations nor pandas",
        "1 DAG file",
        not heavy,
        None,
        "",
        "true",
        notes=[f"heavy modules found after parsing: {sorted(heavy) or 'none'} (checked in every load of #1)"],
    )
    if enforce:
        imports.passed = not heavy
    return [parse.judge(enforce), imports]
