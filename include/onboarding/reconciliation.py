"""Compare the warehouse with AvePoint's customer list; settle what an earlier attempt did create.

The reconciliation DAG (``avepoint_customer_reconciliation``) runs this daily. It only reads
AvePoint (the list endpoint, pages of 100), never POSTs to the onboarding endpoint.

Findings, one row each in ``<table>_drift`` (and counted in the run's note):

| kind | what | what happens |
| --- | --- | --- |
| ``missing_in_avepoint`` | an ``onboarded`` row whose AvePoint id is not in the list | reported |
| ``account_mismatch`` | an ``onboarded`` row whose id is listed under another account | reported |
| ``unknown_customer`` | a listed customer no row knows (by id or account) | reported |
| ``settled`` | a ``conflict``/``retry`` row whose account is listed: an earlier attempt created it | set ``onboarded`` with that id, password erased, an events row says why |
| ``duplicate_account`` | as ``settled``, but that AvePoint id is already another row's | reported, not settled |

Details name customer keys and AvePoint ids, never an e-mail address or a password: the
accounts are compared in memory only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from include.onboarding.config import AVEPOINT_CONN_ID, WAREHOUSE_CONN_ID, OnboardingSettings
from include.onboarding.status import Status

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MISSING = "missing_in_avepoint"
MISMATCH = "account_mismatch"
UNKNOWN = "unknown_customer"
SETTLED = "settled"
DUPLICATE = "duplicate_account"
KINDS = (MISSING, MISMATCH, UNKNOWN, DUPLICATE, SETTLED)
# Kinds a human must look at (a settled row needs nobody).
NEEDS_A_HUMAN = (MISSING, MISMATCH, UNKNOWN, DUPLICATE)


@dataclass
class Comparison:
    """What one comparison found: findings for the drift table, rows to settle as onboarded."""

    findings: list[dict[str, Any]] = field(default_factory=list)
    settlements: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, key: str | None, customer_id: str | None, detail: str) -> None:
        self.findings.append(
            {"kind": kind, "customer_key": key, "avepoint_customer_id": customer_id, "detail": detail}
        )


def _account(value: Any) -> str:
    return str(value or "").strip().casefold()


def compare(
    rows: Iterable[Mapping[str, Any]], listed: Iterable[Mapping[str, Any]], run_id: str
) -> Comparison:
    """Compare warehouse rows (key, status, account, AvePoint id) with AvePoint's list."""
    rows = list(rows)
    by_id = {str(c["id"]): c for c in listed if c.get("id")}
    by_account = {_account(c.get("ownerEmail")): c for c in by_id.values() if c.get("ownerEmail")}
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
            listed_customer = by_account.get(account)
            if listed_customer is None:
                continue
            found_id = str(listed_customer["id"])
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
                {"customer_key": key, "avepoint_customer_id": found_id, "reason": reason}
            )
            result.add(SETTLED, key, found_id, f"row {key} was {status}; settled as onboarded: {reason}")
    for customer_id, customer in by_id.items():
        if customer_id in row_of_id or _account(customer.get("ownerEmail")) in row_of_account:
            continue
        organization = " ".join(str(customer.get("organization") or "").split())[:80]
        result.add(
            UNKNOWN,
            None,
            customer_id,
            f"AvePoint lists customer {customer_id} ({organization or 'no organization'}) that no warehouse "
            "row knows",
        )
    return result


def reconcile(context: Any) -> dict[str, Any]:
    """The DAG's ``reconcile_customers`` step: list, compare, settle, record; return counts."""
    from include.onboarding.ops_store import OperationsWarehouse

    settings = OnboardingSettings.load()
    store = OperationsWarehouse(
        WAREHOUSE_CONN_ID, settings.table, operations_schema=settings.operations_schema
    )
    try:
        return _reconcile(store, context["run_id"])
    finally:
        store.dispose()


def _reconcile(store: Any, run_id: str) -> dict[str, Any]:
    from avepoint_provider.hooks.avepoint import AvePointHook

    store.prepare()
    store.create_operations_tables()
    findings = store.drift_findings(run_id)
    if findings:
        # A retry of a run whose findings are committed: they stand (re-comparing now would not
        # see the rows this run settled).
        log.info("Run %s already recorded %d finding(s); not comparing again", run_id, len(findings))
    else:
        hook = AvePointHook(AVEPOINT_CONN_ID)
        try:
            listed = list(hook.list_customers(page_size=PAGE_SIZE))
        finally:
            hook.close()
        rows = store.reconciliation_rows()
        comparison = compare(rows, listed, run_id)
        settled = store.record_reconciliation(run_id, comparison.findings, comparison.settlements)
        log.info(
            "Compared %d warehouse row(s) with %d customer(s) AvePoint lists; settled %d row(s)",
            len(rows),
            len(listed),
            len(settled),
        )
        findings = store.drift_findings(run_id)
    counts = {kind: sum(1 for f in findings if f["kind"] == kind) for kind in KINDS}
    counts = {kind: n for kind, n in counts.items() if n}
    for finding in findings:
        log.info("Drift %s: %s", finding["kind"], finding["detail"])
    return {"run_id": run_id, "counts": counts, "findings": len(findings)}


def finish(context: Any, result: dict[str, Any] | None) -> dict[str, Any]:
    """The DAG's ``send_alerts`` step: note on the run, the drift alert, alerts still owed."""
    from include.onboarding.alerts import alert_after_reconciliation
    from include.onboarding.config import AIRFLOW_API_CONN_ID
    from include.onboarding.run_note import publish_note

    settings = OnboardingSettings.load()
    counts = (result or {}).get("counts") or {}
    note = render_note(counts, table=settings.table)
    log.info("Reconciliation summary:\n%s", note)
    publish_note(context["dag"].dag_id, context["run_id"], note, AIRFLOW_API_CONN_ID)
    return {"counts": counts, "alerts": alert_after_reconciliation(context, settings)}


def render_note(counts: Mapping[str, int], *, table: str) -> str:
    from pathlib import Path

    import jinja2

    template = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    ).get_template("reconciliation_note.md.j2")
    needing = sum(counts.get(kind, 0) for kind in NEEDS_A_HUMAN)
    return template.render(counts=counts, needing=needing, table=table, kinds=KINDS).strip() + "\n"
