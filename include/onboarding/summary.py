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

NOTE_MAX_CHARS = 1000  # DAGRunPatchBody.note max_length in Airflow 3.3
STATUS_ORDER = ("onboarded", "invalid", "rejected", "conflict", "retry", "failed", "in_progress", "pending")
# Values sit mid-line, so only inline Markdown (emphasis, code, links, HTML, tables) needs escaping.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def md(value: Any, max_chars: int = 200) -> str:
    """Text made safe for one Markdown line: whitespace collapsed, specials escaped, length capped."""
    text = " ".join(str(value if value is not None else "").split())
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", text)


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
        text = _template().render(
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
        for limit, reason_chars in ((10, 160), (6, 100), (3, 80), (1, 60), (0, 60)):
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
