"""The review queue: rows needing a human, decided by a person in the Airflow UI.

The DAG ``avepoint_customer_review`` offers each row in ``invalid``, ``rejected``, ``conflict`` or
``failed`` as a human-in-the-loop task (``review_operator.py``) with three choices:

- *Retry as is*: the row goes back to ``pending`` unchanged;
- *Retry with corrected fields*: the form holds the row's current values (never the password);
  the row goes back to ``pending`` with the values the person changed;
- *Leave it*: nothing changes (also what happens when nobody answers in time).

A retry passes the onboarding DAG's own validation first (every rule, on the row as it would be
re-queued): nothing is re-queued that a run would refuse. A ``failed`` row starts again with
``attempts = 0``. The choice, the names of the fields changed and the responding user go to the
events table, whatever the outcome. The row is re-queued only while it is still in the status the
person saw, with the values the form showed: a row changed meanwhile in the warehouse is left alone.

This module (the queue and its form) is imported when the DAG files are parsed: it holds names and
plain functions, and imports the warehouse inside the functions that need it. What an answer does
is :mod:`include.onboarding.review_decision`; the task itself, :mod:`include.onboarding.review_operator`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from airflow.sdk import Asset

from include.onboarding.names import REVIEW_ASSET_URI
from include.onboarding.status import NEEDS_HUMAN

log = logging.getLogger(__name__)

# The onboarding run's request for a review: an event when it left rows needing a human.
REVIEW_ASSET = Asset(REVIEW_ASSET_URI)

RETRY = "Retry as is"
CORRECT = "Retry with corrected fields"
LEAVE = "Leave it"
CHOICES = (RETRY, CORRECT, LEAVE)

# The fields a person may correct, in the form's order. Never the key (it names the row) and
# never the password (the form, its answer and the metadata database would hold it).
EDITABLE = (
    "first_name",
    "last_name",
    "organization_name",
    "registration_account",
    "country_code",
    "telephone_number",
    "data_center",
    "tags",
    "management_mode",
)
OPTIONAL = frozenset({"telephone_number", "tags", "management_mode"})
TITLES = {
    "first_name": "First name",
    "last_name": "Last name",
    "organization_name": "Organization",
    "registration_account": "Registration account (sign-in e-mail)",
    "country_code": "Country code",
    "telephone_number": "Telephone number",
    "data_center": "Data center (GUID)",
    "tags": "Tags",
    "management_mode": "Management mode",
}
HINTS = {
    "country_code": "Two capital letters, e.g. US.",
    "telephone_number": "Optional; a phone number plausible in the row's country.",
    "data_center": "One of AvePoint's data center GUIDs, of the connection's cloud.",
    "tags": 'Optional; a JSON array of strings, e.g. ["vip", "eu"].',
    "management_mode": "Optional; true or false.",
}


# -- what the form shows ---------------------------------------------------------------------------


def shown_value(row: dict[str, Any], column: str) -> Any:
    """A row's value as the form shows it: text with invisible characters escaped, a value that is
    not valid UTF-8 as empty, ``management_mode`` as true/false/None. Never rendered, never code."""
    from include.onboarding.warehouse import Undecodable, display_text

    value = row.get(column)
    if column == "management_mode":
        return None if value is None else bool(value)
    if value is None or isinstance(value, Undecodable):
        return None
    return display_text(str(value))


def shown_values(row: dict[str, Any]) -> dict[str, Any]:
    return {column: shown_value(row, column) for column in EDITABLE}


def fingerprint(row: dict[str, Any]) -> str:
    """A digest of the status and values a form showed: tells whether the row changed since."""
    shown = {"status": str(row.get("status")), **shown_values(row)}
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


def form_params(row: dict[str, Any]) -> dict[str, Any]:
    """The form: one typed ``Param`` per editable field, holding the row's current value."""
    from airflow.sdk import Param

    from include.onboarding.warehouse import undecodable_columns

    unreadable = set(undecodable_columns(row))
    params = {}
    for column in EDITABLE:
        value = shown_value(row, column)
        kind = "boolean" if column == "management_mode" else "string"
        hint = HINTS.get(column, "")
        if column in unreadable:
            hint = f"The warehouse holds text that is not valid UTF-8 here; enter it again. {hint}"
        params[column] = Param(
            value,
            type=[kind, "null"],
            title=TITLES[column],
            description=hint.strip() or None,
        )
    return params


def label(row: dict[str, Any]) -> str:
    """What the grid shows for a row's review task: key and organization (at most 40 characters)."""
    from include.onboarding.warehouse import display_text

    organization = " ".join(str(display_text(row.get("organization_name")) or "").split())
    if len(organization) > 40:
        organization = organization[:39] + "…"
    return f"{row['customer_key']} · {organization}" if organization else str(row["customer_key"])


def subject(row: dict[str, Any]) -> str:
    """The request's headline (plain text)."""
    from include.onboarding.warehouse import display_text

    organization = " ".join(str(display_text(row.get("organization_name")) or "").split())
    return f"{display_text(row['customer_key'])} · {organization[:60]} — {row['status']}"


def body(row: dict[str, Any]) -> str:
    """The request's text (Markdown, every value escaped): the row's status and reason, the choices."""
    from include.onboarding.summary import md
    from include.onboarding.warehouse import display_text

    return (
        f"**{md(display_text(row['customer_key']), 128)}** ({md(display_text(row.get('organization_name')), 128)}) "
        f"is **{row['status']}**, after {int(row.get('attempts') or 0)} attempt(s).\n\n"
        f"**Why:** {md(row.get('status_reason') or 'no reason recorded', 1500)}\n\n"
        f"- *{RETRY}*: send it again unchanged.\n"
        f"- *{CORRECT}*: send it again with the fields below as you changed them.\n"
        f"- *{LEAVE}*: change nothing.\n\n"
        "A retry is checked against every validation rule first; a row that breaks one stays as it "
        "is, with the rule in this task's log. The password is never shown here: a row whose "
        "password is missing or wrong needs the warehouse."
    )


# -- the tasks -------------------------------------------------------------------------------------


def request_review(context: Any) -> dict[str, Any]:
    """The onboarding DAG's ``request_review``: an event on :data:`REVIEW_ASSET` when this run left
    rows needing a human (its extra names the run), skipped otherwise (no event, no review run)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from include.onboarding.config import WAREHOUSE_CONN_ID, OnboardingSettings
    from include.onboarding.review_store import ReviewWarehouse

    if context["params"].get("dry_run"):
        raise AirflowSkipException("A dry run changes no row: nothing to review")
    run_id = context["run_id"]
    store = ReviewWarehouse.from_settings(OnboardingSettings.load(), WAREHOUSE_CONN_ID)
    try:
        counts = store.status_counts(run_id)
    finally:
        store.dispose()
    waiting = {status.value: counts[status.value] for status in NEEDS_HUMAN if counts.get(status.value)}
    if not waiting:
        raise AirflowSkipException("No row of this run needs a human: nothing to review")
    context["outlet_events"][REVIEW_ASSET].extra = {"run_id": run_id, "counts": waiting}
    log.info("Asked for a review of this run's rows needing a human: %s", waiting)
    return {"run_id": run_id, "counts": waiting}


def rows_to_review(context: Any) -> list[dict[str, Any]]:
    """The review DAG's first task: one mapped review per row (key and label only, through XCom).

    Started by onboarding runs (the Asset's events): the rows those runs left needing a human.
    Started by hand: every row needing a human, or the ``customer_keys`` given. At most ``max_rows``.
    """
    from include.onboarding.config import WAREHOUSE_CONN_ID, OnboardingSettings
    from include.onboarding.review_store import ReviewWarehouse

    params = context["params"]
    events = (context.get("triggering_asset_events") or {}).get(REVIEW_ASSET) or []
    run_ids = sorted({str(e.extra["run_id"]) for e in events if (e.extra or {}).get("run_id")})
    keys = [str(k) for k in params.get("customer_keys") or []]
    limit = int(params["max_rows"])
    store = ReviewWarehouse.from_settings(OnboardingSettings.load(), WAREHOUSE_CONN_ID)
    try:
        store.prepare()
        rows, left_out = store.review_rows(run_ids=run_ids, keys=keys, limit=limit)
    finally:
        store.dispose()
    scope = f"left by run(s) {', '.join(run_ids)}" if run_ids else "needing a human"
    log.info(
        "%d row(s) %s to review%s", len(rows), scope, f" (of the keys given: {len(keys)})" if keys else ""
    )
    if left_out:
        log.warning(
            "%d more row(s) need a human beyond max_rows=%d: trigger this DAG again once these are done",
            left_out,
            limit,
        )
    return [{"customer_key": str(r["customer_key"]), "customer_label": label(r)} for r in rows]
