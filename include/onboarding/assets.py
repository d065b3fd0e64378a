"""The Asset ``avepoint://elements/customers``: an event after a run that onboarded customers.

The onboarding DAG's ``announce_customers`` task carries the asset as its outlet. It runs beside
``finish_run`` (both after the onboarding tasks, whatever their outcome), so customers onboarded by
a run whose finish fails for other rows are still announced. When the run onboarded nobody the
task is skipped: Airflow 3.3 records an outlet's event whenever its task succeeds (the Task SDK
has no way to drop it), and a skipped task records none.

Extra of the event: ``run_id``, ``counts`` (rows per status in the run), ``onboarded`` (how
many) and ``customers`` (``customer_key`` and ``avepoint_customer_id`` each; no e-mail address).

This module is imported by DAG files at parse time: it imports only ``airflow.sdk``'s Asset.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Asset

log = logging.getLogger(__name__)

CUSTOMERS_ASSET_URI = "avepoint://elements/customers"
CUSTOMERS_ASSET = Asset(CUSTOMERS_ASSET_URI)


def announce(context: Any) -> dict[str, Any]:
    """Set the outlet event's extra for the customers this run onboarded; skip when there are none."""
    from airflow.sdk.exceptions import AirflowSkipException

    from include.onboarding.config import WAREHOUSE_CONN_ID, OnboardingSettings
    from include.onboarding.ops_store import OperationsWarehouse
    from include.onboarding.summary import ordered_counts

    run_id = context["run_id"]
    if context["params"].get("dry_run"):
        raise AirflowSkipException("a dry run onboards nobody: no asset event")
    settings = OnboardingSettings.load()
    store = OperationsWarehouse(
        WAREHOUSE_CONN_ID, settings.table, operations_schema=settings.operations_schema
    )
    try:
        customers = [
            {"customer_key": str(r["customer_key"]), "avepoint_customer_id": r["avepoint_customer_id"]}
            for r in store.onboarded_by_run(run_id)
        ]
        counts = ordered_counts(store.status_counts(run_id)) if customers else {}
    finally:
        store.dispose()
    if not customers:
        raise AirflowSkipException(f"run {run_id} onboarded no customer: no event on {CUSTOMERS_ASSET_URI}")
    extra = {"run_id": run_id, "counts": counts, "onboarded": len(customers), "customers": customers}
    context["outlet_events"][CUSTOMERS_ASSET].extra = extra
    log.info("Announcing %d onboarded customer(s) on %s", len(customers), CUSTOMERS_ASSET_URI)
    return {"run_id": run_id, "onboarded": len(customers)}


def welcome_work(events: Any) -> list[dict[str, Any]]:
    """One welcome item per onboarded customer in the triggering events (each key once)."""
    work: dict[str, dict[str, Any]] = {}
    for event in events or []:
        extra = getattr(event, "extra", None) or {}
        for customer in extra.get("customers") or []:
            key = str(customer.get("customer_key") or "")
            if key and key not in work:
                work[key] = {
                    "customer_key": key,
                    "avepoint_customer_id": customer.get("avepoint_customer_id"),
                    "onboarding_run_id": extra.get("run_id"),
                }
    return list(work.values())


def queue_welcome(context: Any) -> list[dict[str, Any]]:
    """The example downstream DAG's step: queue welcome work per onboarded customer.

    Here it logs each item and returns them; a real deployment would put them on its own queue
    (a CRM task, a welcome mail through its own service).
    """
    events = context["triggering_asset_events"][CUSTOMERS_ASSET]
    work = welcome_work(events)
    for item in work:
        log.info(
            "Welcome queued for customer %s (AvePoint id %s), onboarded by run %s",
            item["customer_key"],
            item["avepoint_customer_id"],
            item["onboarding_run_id"],
        )
    if not work:
        log.info("No onboarded customer in the triggering events (a manual run?)")
    return work
