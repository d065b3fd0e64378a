"""``python -m bench`` (``make bench``): run the benchmarks, print and save the results table.

Every figure is a ratio to a baseline measured in the same run on the same machine. Without
``--smoke`` the targets are enforced: the exit status is 1 when one is missed, and the table is
written to ``bench/RESULTS.md``. ``--smoke`` runs tiny sizes without targets (the test suite does
this so the benchmarks cannot rot) and writes nothing unless ``--output`` says where.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Before anything imports Airflow: the benchmark's own AIRFLOW_HOME inside the repo, no examples.
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / "var" / "bench" / "airflow-home"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from bench.common import Result, machine  # noqa: E402

RESULTS_FILE = ROOT / "bench" / "RESULTS.md"
SCENARIOS = (1, 2, 3, 4, 5, 6, 7, 8, 9)


@dataclass(frozen=True)
class Sizes:
    """How big each scenario runs: the issue's sizes, or the smoke test's tiny ones."""

    # The cheap scenarios repeat more than --repeat asks, to tame this machine's noise.
    parse_repeat: int
    validation_repeat: int
    hook_repeat: int
    claim_repeat: int
    customers: int
    warmup_customers: int
    validation_rows: int
    validation_scaling: tuple[int, ...]
    hook_calls: int
    claim_rows: int
    claim_limit: int
    # Scenario 9 (bench/drain.py): the backlog and the customers per chained run.
    drain_customers: int
    drain_batch: int


FULL = Sizes(
    parse_repeat=11,
    validation_repeat=5,
    hook_repeat=7,
    claim_repeat=7,
    customers=200,
    warmup_customers=3,
    validation_rows=10_000,
    validation_scaling=(100, 100_000),
    hook_calls=1000,
    claim_rows=50_000,
    claim_limit=500,
    drain_customers=2000,
    drain_batch=500,
)
SMOKE = Sizes(
    parse_repeat=1,
    validation_repeat=1,
    hook_repeat=1,
    claim_repeat=1,
    customers=2,
    warmup_customers=0,
    validation_rows=300,
    validation_scaling=(),
    hook_calls=20,
    claim_rows=2000,
    claim_limit=20,
    drain_customers=3,
    drain_batch=2,
)


def parse_only(text: str) -> frozenset[int]:
    """``--only 1,5``; 2 comes with 1 (same processes), 4 with 3 (same deployment) when asked for."""
    try:
        numbers = frozenset(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--only takes scenario numbers such as 1,5; got {text!r}") from None
    unknown = sorted(numbers - set(SCENARIOS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown scenario(s) {unknown}; known: {list(SCENARIOS)}")
    return numbers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition, no targets")
    parser.add_argument(
        "--only",
        type=parse_only,
        default=frozenset(SCENARIOS),
        help="scenarios to run, e.g. 1,5 (default: all)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="repetitions per scenario (default 3, smoke 1); the cheap ones repeat more (see Sizes)",
    )
    parser.add_argument(
        "--customers",
        type=int,
        default=None,
        help="backlog of the scheduler scenarios 3, 4 and 8 (default 200, smoke 2), e.g. to try them quickly",
    )
    parser.add_argument("--output", type=Path, default=None, help=f"results file (default {RESULTS_FILE})")
    return parser


def plan(
    sizes: Sizes, only: frozenset[int], repeat: int, smoke: bool
) -> list[tuple[str, Callable[[], list[Result]]]]:
    """The scenario families to run, each a label and a thunk returning its result rows."""
    enforce = not smoke
    steps: list[tuple[str, Callable[[], list[Result]]]] = []
    if only & {1, 2}:

        def parse() -> list[Result]:
            from bench import parse

            results = parse.run(repeat=max(repeat, sizes.parse_repeat), enforce=enforce, warm=not smoke)
            return [r for r in results if r.number in only]

        steps.append(("1-2 parse", parse))
    if 5 in only:

        def validation() -> list[Result]:
            from bench import validation

            return validation.run(
                rows=sizes.validation_rows,
                repeat=max(repeat, sizes.validation_repeat),
                enforce=enforce,
                scaling=sizes.validation_scaling,
            )

        steps.append(("5 validation", validation))
    if 6 in only:

        def hook() -> list[Result]:
            from bench import hook

            return hook.run(calls=sizes.hook_calls, repeat=max(repeat, sizes.hook_repeat), enforce=enforce)

        steps.append(("6 hook", hook))
    if 7 in only:

        def claim() -> list[Result]:
            from bench import claim

            return claim.run(
                rows=sizes.claim_rows,
                claim=sizes.claim_limit,
                repeat=max(repeat, sizes.claim_repeat),
                enforce=enforce,
            )

        steps.append(("7 claim", claim))
    if only & {3, 4}:

        def scheduler() -> list[Result]:
            from bench import scheduler

            return scheduler.run(
                customers=sizes.customers,
                repeat=repeat,
                enforce=enforce,
                warmup=sizes.warmup_customers,
                scenarios=only & {3, 4},
            )

        steps.append(("3-4 scheduler", scheduler))
    if 8 in only:

        def celery() -> list[Result]:
            from bench import scheduler

            return scheduler.run(
                customers=sizes.customers,
                repeat=repeat,
                enforce=enforce,
                warmup=sizes.warmup_customers,
                scenarios=frozenset({8}),
            )

        steps.append(("8 celery", celery))
    if 9 in only:

        def drain() -> list[Result]:
            from bench import drain

            return drain.run(customers=sizes.drain_customers, batch=sizes.drain_batch, warmup=not smoke)

        steps.append(("9 drain", drain))
    return steps


def render(
    results: Sequence[Result],
    info: dict[str, str],
    *,
    smoke: bool,
    repeat: int,
    sizes: Sizes,
    minutes: float,
) -> str:
    """The Markdown report: machine, table, then the notes behind each row."""
    header = ["#", "scenario", "size", "project", "baseline", "ratio", "target", "verdict"]
    lines = [
        "# Benchmark results" + (" (smoke run: tiny sizes, targets not enforced)" if smoke else ""),
        "",
        "Produced by `make bench` (`python -m bench`). Every figure is a median of the repetitions, "
        "and every ratio is project / baseline measured in the same run on this machine. "
        "The scheduler scenarios (3, 4, 8) are measured in wall time and in CPU seconds per customer summed "
        "over every process of the deployment. Their targets are judged on wall time when its repetitions "
        "spread less than the margin the target tests, else on CPU when those do, else not at all (their "
        "notes give both measures, with every repetition).",
        "",
        "| machine | |",
        "| --- | --- |",
        *(f"| {key} | {value} |" for key, value in info.items()),
        f"| repetitions | {repeat} for the scheduler runs (3, 4, 8); parse time {max(repeat, sizes.parse_repeat)}, "
        f"validation {max(repeat, sizes.validation_repeat)}, hook {max(repeat, sizes.hook_repeat)}, "
        f"claim {max(repeat, sizes.claim_repeat)} |",
        f"| wall time | {minutes:.1f} min |",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(cell.replace("|", "\\|") for cell in r.cells()) + " |" for r in results),
        "",
        "## Notes",
        "",
    ]
    for r in results:
        for note in r.notes:
            lines.append(f"- **#{r.number}**: {note}")
    missed = [r for r in results if r.passed is False]
    if missed:
        lines += ["", "## Targets missed", ""]
        for r in missed:
            measured = f"{r.ratio:.2f}x" if r.ratio is not None else r.cells()[3]
            lines.append(
                f"- **#{r.number}** ({measured}, target {r.target}): {r.explanation or 'see the notes'}"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    smoke = args.smoke
    repeat = args.repeat or (1 if smoke else 3)
    sizes = SMOKE if smoke else FULL
    if args.customers is not None:
        sizes = dataclasses.replace(sizes, customers=args.customers)
    began = time.monotonic()
    results: list[Result] = []
    failures: list[str] = []
    for label, step in plan(sizes, args.only, repeat, smoke):
        step_began = time.monotonic()
        print(f"[bench] {label} ...", flush=True)
        try:
            rows = step()
        except Exception:  # noqa: BLE001 - one broken scenario must not hide the others' results
            failures.append(label)
            print(f"[bench] {label} FAILED:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            continue
        results += rows
        print(f"[bench] {label} done in {time.monotonic() - step_began:.0f} s", flush=True)
    results.sort(key=lambda r: (int(str(r.number)[0]), str(r.number)))
    minutes = (time.monotonic() - began) / 60
    report = render(results, machine(), smoke=smoke, repeat=repeat, sizes=sizes, minutes=minutes)
    print(report)
    output = args.output or (None if smoke else RESULTS_FILE)
    if output is not None:
        output.write_text(report, "utf-8")
        print(f"[bench] written to {output}")
    missed = [str(r.number) for r in results if r.passed is False]
    if failures:
        print(f"[bench] scenario(s) failed to run: {', '.join(failures)}", file=sys.stderr)
    if missed:
        print(f"[bench] target(s) missed: #{', #'.join(missed)}", file=sys.stderr)
    return 1 if failures or missed else 0


if __name__ == "__main__":
    sys.exit(main())
