"""Compare the warehouse with AvePoint's customer list; settle what an earlier attempt did create.

The reconciliation DAG (``avepoint_customer_reconciliation``) runs this daily. It only reads
AvePoint (the list endpoint, pages of 100), never POSTs to the onboarding endpoint.

Findings, one row each per run in ``<table>_drift`` (and counted in the run's note):

| kind | what | what happens |
| --- | --- | --- |
| ``missing_in_avepoint`` | an ``onboarded`` row whose AvePoint id is not in the list | reported |
| ``account_mismatch`` | an ``onboarded`` row whose id is listed under another account | reported |
| ``unknown_customer`` | a listed customer no row knows (by id or account) | reported |
| ``settled`` | a ``conflict``/``retry`` row whose account is listed: an earlier attempt created it | set ``onboarded`` with that id, password erased, an events row says why |
| ``duplicate_account`` | as ``settled``, but that AvePoint id is already another row's | reported, not settled |
| ``ambiguous_match`` | a ``conflict``/``retry`` row whose account AvePoint lists more than once, without an id, or under another organization | reported, not settled |

Each finding has a life (:func:`track`, ``<table>_drift_state``): alerted when it is new or
changes, recorded but not alerted while it stands, closed when a run no longer finds it, quiet once
acknowledged; the first reconciliation takes the customers the account already had as its
baseline. The run's alert is owed in the transaction that records its findings and sent by the
DAG's ``send_alerts`` (:mod:`include.onboarding.alerts`; this module calls it, never the reverse).

Details name customer keys and AvePoint ids, never an e-mail address or a password: the
accounts are compared in memory only, by the project's one account identity
(:func:`~avepoint_provider.hooks.avepoint.account_key`: trimmed, ASCII letters lowered, no
Unicode folding), the same rule the hook's look-up and validation use.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from avepoint_provider.hooks.avepoint import account_key
from include.onboarding.config import AVEPOINT_CONN_ID, WAREHOUSE_CONN_ID, OnboardingSettings
from include.onboarding.status import Status

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MISSING = "missing_in_avepoint"
MISMATCH = "account_mismatch"
UNKNOWN = "unknown_customer"
SETTLED = "settled"
DUPLICATE = "duplicate_account"
AMBIGUOUS = "ambiguous_match"
KINDS = (MISSING, MISMATCH, UNKNOWN, DUPLICATE, AMBIGUOUS, SETTLED)
# Kinds a human must look at (a settled row needs nobody).
NEEDS_A_HUMAN = (MISSING, MISMATCH, UNKNOWN, DUPLICATE, AMBIGUOUS)
# What a finding is to the run that records it (the drift table's state column).
NEW, CHANGED, STANDING, CLOSED = "new", "changed", "standing", "closed"
ACKNOWLEDGED, BASELINE = "acknowledged", "baseline"
STATES = (NEW, CHANGED, STANDING, ACKNOWLEDGED, CLOSED, BASELINE)
# The states a human still has to look at (the run's counts per kind).
OPEN = (NEW, CHANGED, STANDING)
# The drift state table's record of the baseline itself: its presence says the first
# reconciliation has run.
BASELINE_KIND = "baseline"
BASELINE_BY = "baseline (the first reconciliation)"


@dataclass
class Comparison:
    """What one comparison found: findings for a human, rows to settle as onboarded (each with its finding)."""

    findings: list[dict[str, Any]] = field(default_factory=list)
    settlements: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, key: str | None, customer_id: str | None, detail: str) -> None:
        self.findings.append(_finding(kind, key, customer_id, detail))


def _finding(kind: str, key: str | None, customer_id: str | None, detail: str) -> dict[str, Any]:
    return {"kind": kind, "customer_key": key, "avepoint_customer_id": customer_id, "detail": detail}


def _account(value: Any) -> str:
    """The account as every comparison in the project sees it (:func:`account_key`)."""
    return account_key(str(value or ""))


def _organization(value: Any) -> str:
    """An organization name compared the same careful way: blanks collapsed, ASCII letters lowered."""
    return account_key(" ".join(str(value or "").split()))


def _shown(value: Any) -> str:
    return " ".join(str(value or "").split())[:80]


def compare(
    rows: Iterable[Mapping[str, Any]], listed: Iterable[Mapping[str, Any]], run_id: str
) -> Comparison:
    """Compare warehouse rows (key, status, account, organization, AvePoint id) with AvePoint's list.

    Accounts are one account when :func:`account_key` says so, nowhere looser: a false match
    would settle a row as a customer that is not its own (erasing its password, never creating
    it). A ``conflict``/``retry`` row is settled only when exactly one listed customer has its
    account, with an id, under the same organization; anything else is left to a human.
    """
    rows = list(rows)
    listed = list(listed)
    by_id = {str(c["id"]): c for c in listed if c.get("id")}
    by_account: dict[str, list[Mapping[str, Any]]] = {}
    for customer in listed:
        if _account(customer.get("ownerEmail")):
            by_account.setdefault(_account(customer.get("ownerEmail")), []).append(customer)
    row_of_account = {_account(r["registration_account"]): str(r["customer_key"]) for r in rows}
    row_of_id = {
        str(r["avepoint_customer_id"]): str(r["customer_key"]) for r in rows if r["avepoint_customer_id"]
    }
    result = Comparison()
    settled_ids: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: str(r["customer_key"])):
        key, status = str(row["customer_key"]), row["status"]
        account = _account(row["registration_account"])
        customer_id = str(row["avepoint_customer_id"]) if row["avepoint_customer_id"] else None
        if status == Status.ONBOARDED:
            listed_customer = by_id.get(customer_id) if customer_id else None
            if listed_customer is None:
                result.add(
                    MISSING,
                    key,
                    customer_id,
                    f"row {key} is onboarded as AvePoint customer {customer_id or '(no id recorded)'}, "
                    "which AvePoint does not list under this partner",
                )
            elif _account(listed_customer.get("ownerEmail")) != account:
                holder = row_of_account.get(_account(listed_customer.get("ownerEmail")))
                owner = f"the account of row {holder}" if holder else "an account no warehouse row holds"
                result.add(
                    MISMATCH,
                    key,
                    customer_id,
                    f"AvePoint lists customer {customer_id} under {owner}, not under row {key}'s "
                    "registration_account",
                )
        elif status in (Status.CONFLICT, Status.RETRY):
            matches = by_account.get(account, []) if account else []
            if not matches:
                continue
            found_id = str(matches[0].get("id") or "")
            doubt = _doubt(row, matches)
            if doubt:
                result.add(AMBIGUOUS, key, found_id or None, f"row {key} ({status}): {doubt}; not settled")
                continue
            other = row_of_id.get(found_id) or settled_ids.get(found_id)
            if other and other != key:
                result.add(
                    DUPLICATE,
                    key,
                    found_id,
                    f"row {key} ({status}) has the account of AvePoint customer {found_id}, which row "
                    f"{other} already holds; not settled",
                )
                continue
            reason = (
                f"reconciliation run {run_id} found this account in AvePoint's customer list as "
                f"{found_id}: an earlier attempt created it (was {status})"
            )
            settled_ids[found_id] = key
            result.settlements.append(
                {
                    "customer_key": key,
                    "avepoint_customer_id": found_id,
                    "reason": reason,
                    # Recorded only if the row is still settleable when the run writes.
                    "finding": _finding(
                        SETTLED, key, found_id, f"row {key} was {status}; settled as onboarded: {reason}"
                    )
                    | {"state": NEW},
                }
            )
    for customer_id, customer in by_id.items():
        if customer_id in row_of_id or _account(customer.get("ownerEmail")) in row_of_account:
            continue
        organization = _shown(customer.get("organization"))
        result.add(
            UNKNOWN,
            None,
            customer_id,
            f"AvePoint lists customer {customer_id} ({organization or 'no organization'}) that no warehouse "
            "row knows",
        )
    return result


def _doubt(row: Mapping[str, Any], matches: list[Mapping[str, Any]]) -> str | None:
    """Why the listed customers with a row's account do not prove that an attempt created it, or None."""
    if len(matches) > 1:
        ids = ", ".join(sorted(str(c.get("id") or "(no id)") for c in matches))
        return f"AvePoint lists {len(matches)} customers with its account ({ids})"
    [match] = matches
    if not match.get("id"):
        return "AvePoint lists its account without a customer id"
    if _organization(match.get("organization")) != _organization(row.get("organization_name")):
        return (
            f"AvePoint lists customer {match['id']} with its account under another organization "
            f"({_shown(match.get('organization')) or 'none'}, not {_shown(row.get('organization_name'))})"
        )
    return None


# -- the drift lifecycle ----------------------------------------------------------------------------


@dataclass
class DriftPlan:
    """How one run's findings move the drift tables on (see :func:`track`)."""

    findings: list[dict[str, Any]] = field(default_factory=list)  # this run's drift rows, with state
    opened: list[dict[str, Any]] = field(default_factory=list)  # findings that start a life
    seen: list[dict[str, Any]] = field(default_factory=list)  # open findings found again
    closed: list[str] = field(default_factory=list)  # open findings no longer found
    alerted: list[dict[str, Any]] = field(default_factory=list)  # new or changed, for a human
    baseline: int = 0
    standing: int = 0


def finding_key(finding: Mapping[str, Any]) -> str:
    """A finding's identity across runs: its kind, customer key and AvePoint id."""
    return json.dumps([finding["kind"], finding.get("customer_key"), finding.get("avepoint_customer_id")])


def track(
    findings: Iterable[Mapping[str, Any]],
    open_findings: Iterable[Mapping[str, Any]],
    *,
    acknowledged: Collection[str] = (),
) -> DriftPlan:
    """Set this run's findings against the findings that stand.

    A finding not standing yet is ``new`` (alerted); one standing with another detail is
    ``changed`` (alerted); one standing as it was is ``standing`` (recorded, not alerted again); a
    standing finding no longer found is ``closed``. A finding a person acknowledged (in the state
    table, or named in ``acknowledged``: customer keys and AvePoint ids from the Variable) is
    ``acknowledged``: recorded, never alerted. The first reconciliation takes every
    ``unknown_customer`` as the ``baseline``: customers the account had before this project, one
    line in the alert; they are not drift after that (their life goes on in the state table only).
    """
    standing = {str(f["finding_key"]): f for f in open_findings}
    first = not any(f["kind"] == BASELINE_KIND for f in standing.values())
    plan = DriftPlan()
    found: set[str] = set()
    for finding in findings:
        key = finding_key(finding)
        found.add(key)
        current = standing.get(key)
        if current is None and first and finding["kind"] == UNKNOWN:
            plan.opened.append(dict(finding, finding_key=key, acknowledged_by=BASELINE_BY))
            plan.findings.append(dict(finding, state=BASELINE))
            plan.baseline += 1
            continue
        if current is None:
            state = NEW
            plan.opened.append(dict(finding, finding_key=key, acknowledged_by=None))
        else:
            state = CHANGED if current["detail"] != finding["detail"] else STANDING
            plan.seen.append({"finding_key": key, "detail": finding["detail"]})
        if current is not None and current["acknowledged_by"] == BASELINE_BY:
            continue  # part of the baseline: not drift
        if (current is not None and current["acknowledged_by"]) or _named(finding, acknowledged):
            plan.findings.append(dict(finding, state=ACKNOWLEDGED))
            continue
        plan.findings.append(dict(finding, state=state))
        if state == STANDING:
            plan.standing += 1
        elif finding["kind"] in NEEDS_A_HUMAN:
            plan.alerted.append(dict(finding))
    for key, current in standing.items():
        if key in found or current["kind"] == BASELINE_KIND:
            continue
        plan.closed.append(key)
        plan.findings.append(
            _finding(
                str(current["kind"]),
                current["customer_key"],
                current["avepoint_customer_id"],
                f"no longer found: {current['detail']}",
            )
            | {"state": CLOSED}
        )
    if first:
        detail = (
            f"the first reconciliation took {plan.baseline} customer(s) that AvePoint already listed and "
            "no warehouse row knew as its baseline: not reported again"
        )
        plan.opened.append(
            _finding(BASELINE_KIND, None, None, detail)
            | {"finding_key": BASELINE_KIND, "acknowledged_by": BASELINE_BY}
        )
    return plan


def _named(finding: Mapping[str, Any], names: Collection[str]) -> bool:
    return bool(names) and (
        finding.get("customer_key") in names or finding.get("avepoint_customer_id") in names
    )


def summarise(run_id: str, counts: Mapping[tuple[str, str], int]) -> dict[str, Any]:
    """The run's result (XCom, note): per kind, the findings still open for a human; per state, every row."""
    kinds: dict[str, int] = {}
    states: dict[str, int] = {}
    for (kind, state), n in counts.items():
        states[state] = states.get(state, 0) + n
        if state in OPEN:
            kinds[kind] = kinds.get(kind, 0) + n
    return {
        "run_id": run_id,
        "counts": {kind: kinds[kind] for kind in KINDS if kinds.get(kind)},
        "states": {state: states[state] for state in STATES if states.get(state)},
        "findings": sum(kinds.values()),
    }


# -- the DAG's steps ----------------------------------------------------------------------------------


def reconcile(context: Any) -> dict[str, Any]:
    """The DAG's ``reconcile_customers`` step: list, compare, settle, record, owe the alert; return counts.

    The operations tables are created here, once per run; ``send_alerts`` finds them.
    """
    from include.onboarding.ops_store import OperationsWarehouse

    settings = OnboardingSettings.load()
    store = OperationsWarehouse(
        WAREHOUSE_CONN_ID, settings.table, operations_schema=settings.operations_schema
    )
    try:
        store.prepare()
        store.create_operations_tables()
        return _reconcile(context, settings, store)
    finally:
        store.dispose()


def _reconcile(context: Any, settings: OnboardingSettings, store: Any) -> dict[str, Any]:
    from avepoint_provider.hooks.avepoint import AvePointHook
    from include.onboarding import alerts

    run_id = context["run_id"]
    recorded = store.drift_counts(run_id)
    if recorded:
        # A retry of a run whose findings (and alert) are committed: they stand. Comparing again
        # would not see the rows this run settled.
        log.info("Run %s already recorded its findings; not comparing again", run_id)
        return summarise(run_id, {(r["kind"], r["state"]): int(r["n"]) for r in recorded})
    hook = AvePointHook(AVEPOINT_CONN_ID)
    try:
        listed = list(hook.list_customers(page_size=PAGE_SIZE))
    finally:
        hook.close()
    rows = store.reconciliation_rows()
    comparison = compare(rows, listed, run_id)
    plan = track(comparison.findings, store.open_drift(), acknowledged=settings.drift_acknowledged)
    payload = alerts.reconciliation_payload(
        plan.alerted,
        baseline=plan.baseline,
        standing=plan.standing,
        dag_id=context["dag"].dag_id,
        run_id=run_id,
        alert_on=settings.alert_on,
    )
    channels = alerts.owed_channels(settings, payload)
    written = store.record_reconciliation(
        run_id,
        settlements=comparison.settlements,
        findings=plan.findings,
        opened=plan.opened,
        seen=plan.seen,
        closed=plan.closed,
        alert=(context["dag"].dag_id, channels, payload) if payload and channels else None,
    )
    for finding in written:
        log.info("Drift %s (%s): %s", finding["kind"], finding["state"], finding["detail"])
    log.info(
        "Compared %d warehouse row(s) with %d customer(s) AvePoint lists: %d new or changed finding(s) "
        "for a human, %d standing, %d closed, %d in the baseline",
        len(rows),
        len(listed),
        len(plan.alerted),
        plan.standing,
        len(plan.closed),
        plan.baseline,
    )
    counts: dict[tuple[str, str], int] = {}
    for finding in written:
        counts[finding["kind"], finding["state"]] = counts.get((finding["kind"], finding["state"]), 0) + 1
    return summarise(run_id, counts)


def finish(context: Any, result: dict[str, Any] | None) -> dict[str, Any]:
    """The DAG's ``send_alerts`` step: the run's note, then the alerts owed (this run's among them)."""
    from include.onboarding.alerts import send_alerts_owed
    from include.onboarding.config import AIRFLOW_API_CONN_ID
    from include.onboarding.run_note import publish_note

    settings = OnboardingSettings.load()
    result = result or {}
    note = render_note(result, table=settings.table)
    log.info("Reconciliation summary:\n%s", note)
    publish_note(context["dag"].dag_id, context["run_id"], note, AIRFLOW_API_CONN_ID)
    return {
        "counts": result.get("counts") or {},
        "states": result.get("states") or {},
        "alerts": send_alerts_owed(context, settings),
    }


def render_note(result: Mapping[str, Any], *, table: str) -> str:
    from pathlib import Path

    import jinja2

    template = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    ).get_template("reconciliation_note.md.j2")
    counts = result.get("counts") or {}
    states = result.get("states") or {}
    needing = sum(counts.get(kind, 0) for kind in NEEDS_A_HUMAN)
    return (
        template.render(
            counts=counts, states=states, needing=needing, table=table, kinds=KINDS, state_names=STATES
        ).strip()
        + "\n"
    )
