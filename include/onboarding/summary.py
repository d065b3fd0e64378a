"""The run summary: counts per status and the rows needing a human, as Markdown.

Rendered from ``templates/run_summary.md.j2`` into the finish task's log (every
row) and into the DAG run's note (Airflow caps notes at 1000 characters, so the
note lists as many rows as fit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from include.onboarding.status import NEEDS_HUMAN, Status

NOTE_MAX_CHARS = 1000  # DAGRunPatchBody.note max_length in Airflow 3.3
STATUS_ORDER = tuple(Status)
# Rows needing a human, most urgent decision first: the note shows at least one of each before more.
HUMAN_ORDER = NEEDS_HUMAN
# (rows listed, characters per reason): the note takes the first rendering that fits.
# Whole reasons beat more rows: every kind of problem is listed anyway, the rest is in the log.
NOTE_LAYOUTS = (
    (10, 200), (10, 160), (8, 160), (6, 160), (5, 160), (4, 160), (6, 120), (4, 120),
    (3, 120), (4, 100), (3, 100), (3, 80), (2, 80), (1, 60), (0, 60),
)  # fmt: skip
# Values sit mid-line, so only inline Markdown (emphasis, code, links, HTML, entities, tables) needs escaping.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
# Words Airflow's UI would turn into links although nothing marks them up: GFM's autolink literals
# (remark-gfm finds them in plain text after escapes are read, so a backslash cannot stop them).
_LINK_LIKE = re.compile(r"(?i)://|www\.|@|\b(?:mailto|xmpp):")


def md(value: Any, max_chars: int = 200) -> str:
    """Text made safe for one Markdown line: whitespace collapsed, specials escaped, length capped.

    A word that could become a link (a URL, ``www.``, an e-mail address) is shown as code, verbatim.
    """
    text = " ".join(str(value if value is not None else "").split())
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return " ".join(
        _code_span(word) if _LINK_LIKE.search(word) else _MD_SPECIAL.sub(r"\\\1", word)
        for word in text.split(" ")
    )


def _code_span(word: str) -> str:
    """``word`` as a CommonMark code span: fenced by more backticks than it holds in a row."""
    fence = "`" * (max((len(run) for run in re.findall("`+", word)), default=0) + 1)
    pad = " " if word.startswith("`") or word.endswith("`") else ""
    return f"{fence}{pad}{word}{pad}{fence}"


@cache
def _template():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = md
    return env.get_template("run_summary.md.j2")


def ordered_counts(counts: dict[str, int]) -> dict[str, int]:
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    return dict(sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def pick_rows(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The rows to list (at most ``limit``) and the counts per status of those left out.

    Rows are taken one status at a time in turn (conflict, rejected, failed, invalid), so a short
    list still shows every kind of problem, and they are listed grouped in that order.
    """
    rank = {s: i for i, s in enumerate(HUMAN_ORDER)}
    by_status: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: (rank.get(r["status"], len(rank)), str(r["customer_key"]))):
        by_status.setdefault(row["status"], []).append(row)
    queues = list(by_status.values())
    shown: list[dict[str, Any]] = []
    while len(shown) < limit and any(queues):
        for queue in queues:
            if queue and len(shown) < limit:
                shown.append(queue.pop(0))
    shown.sort(key=lambda r: (rank.get(r["status"], len(rank)), str(r["customer_key"])))
    left_out = {status: len(queue) for status, queue in by_status.items() if queue}
    return shown, left_out


@dataclass
class RunSummary:
    """What one run did. Holds no secrets: keys, organization names, statuses and reasons."""

    run_id: str
    dry_run: bool = False
    claimed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    needing_human: list[dict[str, Any]] = field(default_factory=list)
    table_counts: dict[str, int] = field(default_factory=dict)
    recovered: int = 0
    stop_reason: str | None = None
    would_send: list[dict[str, Any]] = field(default_factory=list)
    invalid_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def headline(self) -> str:
        if self.stop_reason:
            return "Run stopped"
        if self.needing_human:
            return "Done, with rows needing a human"
        return "Done" if self.claimed else "Nothing to onboard"

    def render(self, *, limit: int = 10_000, reason_chars: int = 500) -> str:
        shown, left_out = pick_rows(self.invalid_rows if self.dry_run else self.needing_human, limit)
        text = _template().render(
            shown=shown,
            left_out=left_out,
            headline=self.headline,
            dry_run=self.dry_run,
            claimed=self.claimed,
            counts=ordered_counts(self.counts),
            table_counts=ordered_counts(self.table_counts),
            needing_human=self.needing_human,
            invalid_rows=self.invalid_rows,
            would_send=self.would_send,
            recovered=self.recovered,
            stop_reason=self.stop_reason,
            invalid=self.invalid_rows,
            limit=limit,
            reason_chars=reason_chars,
        )
        return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"

    def note(self) -> str:
        """The longest rendering that fits in a DAG run note."""
        for limit, reason_chars in NOTE_LAYOUTS:
            text = self.render(limit=limit, reason_chars=reason_chars)
            if len(text) <= NOTE_MAX_CHARS:
                return text
        return text[: NOTE_MAX_CHARS - 1] + "…"

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-safe digest for XCom (the full lists stay in the log)."""
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "claimed": self.claimed,
            "counts": ordered_counts(self.counts),
            "needing_human": len(self.invalid_rows if self.dry_run else self.needing_human),
            "recovered": self.recovered,
            "stop_reason": self.stop_reason,
        }
