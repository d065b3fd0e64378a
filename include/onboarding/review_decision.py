"""What a person's answer in the review queue does to a row (see :mod:`include.onboarding.review`).

A retry passes the onboarding DAG's own validation first, on the row as it would be re-queued, and
happens only while the row is still what the form showed (status and values): nothing is
re-queued that a run would refuse, and nothing changed meanwhile in the warehouse is overwritten.
Every answer, applied or refused, is an event: the choice, the fields changed (names, never
values) and who answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from include.onboarding.review import (
    CHOICES,
    CORRECT,
    EDITABLE,
    LEAVE,
    OPTIONAL,
    fingerprint,
    shown_values,
)
from include.onboarding.status import NEEDS_HUMAN, Status

# Event outcomes of a review (the events table's ``outcome``).
EVENT_RETRY = "review_retry"
EVENT_CORRECTED = "review_corrected"
EVENT_LEFT = "review_left"
EVENT_REFUSED = "review_refused"


@dataclass
class ReviewOutcome:
    """What a review did to one row: for the events table, the task's log, label and XCom."""

    customer_key: str
    choice: str
    outcome: str
    requeued: bool
    message: str
    changed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The end of the mapped task's label in the grid."""
        if self.requeued:
            return "re-queued with corrections" if self.changed else "re-queued"
        return "left as it is" if self.outcome == EVENT_LEFT else "not re-queued (see log)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, for XCom: names of fields and rules, never a value."""
        return {
            "customer_key": self.customer_key,
            "choice": self.choice,
            "outcome": self.outcome,
            "requeued": self.requeued,
            "changed": self.changed,
            "problems": self.problems,
        }


def normalized(column: str, value: Any) -> Any:
    """A form answer as the table holds it: empty optional text is NULL, management mode a boolean."""
    if column == "management_mode":
        if isinstance(value, str):
            return {"true": True, "false": False}.get(value.strip().lower())
        return None if value is None else bool(value)
    if value is None:
        return None
    text = str(value)
    return None if column in OPTIONAL and not text.strip() else text


def changes(row: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """The fields whose answer differs from what the form showed, with their new values."""
    shown = shown_values(row)
    changed = {}
    for column in EDITABLE:
        if column not in answers:
            continue
        value = normalized(column, answers[column])
        if value != shown[column]:
            changed[column] = value
    return changed


def responder(user: dict[str, Any] | None) -> str:
    if not user:
        return "nobody (no answer in time: the default applied)"
    return f"{user.get('name') or '?'} (id {user.get('id') or '?'})"


def apply_review(
    store: Any,
    key: str,
    *,
    choice: str,
    answers: dict[str, Any],
    user: dict[str, Any] | None,
    shown: str | None,
    run_id: str,
    try_number: int | None,
    data_center_family: str,
) -> ReviewOutcome:
    """Carry out a person's choice on one row (``store``: a ``ReviewWarehouse``); record it as an event.

    ``shown`` is the :func:`fingerprint` of the row when the form was made; the row is changed only
    if it still matches. Returns what happened; never raises for a refusal.
    """
    who = responder(user)
    row = next(iter(store.rows([key])), None)

    def refuse(
        reason: str, problems: list[str] | None = None, changed: list[str] | None = None
    ) -> ReviewOutcome:
        fields = f"; fields changed: {', '.join(changed)}" if changed else ""
        message = f"{choice} by {who}: not re-queued, {reason}{fields}"
        if row is not None:
            store.record_review(
                key, outcome=EVENT_REFUSED, message=message, run_id=run_id, try_number=try_number
            )
        return ReviewOutcome(key, choice, EVENT_REFUSED, False, message, changed or [], problems or [])

    if choice not in CHOICES:
        return refuse(f"{choice!r} is not one of the choices")
    if row is None:
        return refuse("the row is no longer in the table")
    status = str(row["status"])
    if status not in NEEDS_HUMAN:
        return refuse(f"the row is {status} now, no longer a row needing a human")
    if shown is not None and fingerprint(row) != shown:
        return refuse("the row changed in the warehouse after the form was made; review it again")
    if choice == LEAVE:
        message = f"{choice} by {who}: the row stays {status}"
        store.record_review(key, outcome=EVENT_LEFT, message=message, run_id=run_id, try_number=try_number)
        return ReviewOutcome(key, choice, EVENT_LEFT, False, message)

    corrected = changes(row, answers) if choice == CORRECT else {}
    candidate = row | corrected
    problems = _problems(store, candidate, data_center_family)
    if problems:
        return refuse("it breaks: " + "; ".join(problems), problems, sorted(corrected))
    fields = f"fields changed: {', '.join(sorted(corrected))}" if corrected else "no field changed"
    reset = status == Status.FAILED
    reason = f"re-queued by {who} in review run {run_id} ({choice.lower()}; {fields})"
    message = f"{choice} by {who}: re-queued as pending from {status}; {fields}" + (
        "; attempts reset to 0" if reset else ""
    )
    outcome = EVENT_CORRECTED if choice == CORRECT else EVENT_RETRY
    requeued = store.requeue(
        key,
        seen_status=status,
        values={column: candidate.get(column) for column in EDITABLE},
        reason=reason,
        reset_attempts=reset,
        outcome=outcome,
        message=message,
        run_id=run_id,
        try_number=try_number,
    )
    if not requeued:
        return refuse(
            "the row changed in the warehouse meanwhile; review it again", changed=sorted(corrected)
        )
    return ReviewOutcome(key, choice, outcome, True, message, sorted(corrected))


def _problems(store: Any, row: dict[str, Any], data_center_family: str) -> list[str]:
    """Every rule the row breaks, as the onboarding DAG's validation names them."""
    from include.onboarding.validation import validate_rows
    from include.onboarding.warehouse import undecodable_columns, undecodable_reason

    unreadable = undecodable_columns(row)
    if unreadable:
        return [undecodable_reason(unreadable)]
    key = str(row["customer_key"])
    failures = validate_rows(
        [row],
        store.password_profiles([key]),
        data_center_family=data_center_family,
        onboarded_accounts=store.onboarded_accounts([str(row.get("registration_account") or "")]),
    )
    return list(dict.fromkeys(failures.get(key, [])))
