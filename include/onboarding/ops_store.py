"""The operations tables beside the customer table: alerts owed and sent, and reconciliation drift.

:class:`OperationsWarehouse` is the :class:`~include.onboarding.warehouse.CustomerWarehouse` with
two more tables, ``<table>_alerts`` and ``<table>_drift``, and the queries that alerts,
reconciliation and the audit report run. Its SQL lives in ``sql/`` like the warehouse's, one file
per method, bound parameters only (the warehouse renders the identifiers ``alerts_table`` and
``drift_table`` for every statement).

Why a table for alerts: "one alert per run" must survive a retried or re-run finish step and a
mail server that is down, so the marker lives where the rows' statuses live, in the same
warehouse, written in its own transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from include.onboarding.status import Status
from include.onboarding.warehouse import CustomerWarehouse, _utcnow

# Reconciliation may settle a row in these statuses as onboarded (never one in_progress).
SETTLEABLE = (Status.CONFLICT, Status.RETRY)
EVENT_RECONCILED = "reconciled"


class OperationsWarehouse(CustomerWarehouse):
    """The customer warehouse plus its alerts and drift tables (created on first use)."""

    def create_operations_tables(self) -> None:
        """Create the alerts and drift tables if missing (cheap when they exist)."""
        with self.transaction() as tx:
            tx.script("create_operations_tables")

    # -- alerts ---------------------------------------------------------------------------------

    def owe_alert(
        self, dag_id: str, run_id: str, channels: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        """Record that ``run_id`` owes an alert on each channel; an alert already recorded stays as it is."""
        now = self._timestamp(_utcnow())
        text = json.dumps(payload, sort_keys=True)
        with self.transaction() as tx:
            for channel in channels:
                tx.run("owe_alert", dag_id=dag_id, run_id=run_id, channel=channel, now=now, payload=text)

    def owed_alerts(self, *, stale_after: timedelta, limit: int = 20) -> list[dict[str, Any]]:
        """Alerts not sent yet and not being sent right now, oldest first."""
        with self.transaction() as tx:
            return tx.run("owed_alerts", stale_before=self._stale_before(stale_after), limit=int(limit))

    def lease_alert(
        self, dag_id: str, run_id: str, channel: str, *, stale_after: timedelta
    ) -> tuple[str, dict[str, Any]] | None:
        """Take one owed alert for sending: ``(holder, payload)``, or None if sent or being sent."""
        holder = uuid.uuid4().hex
        with self.transaction() as tx:
            rows = tx.update(
                "lease_alert",
                read="leased_alert",
                dag_id=dag_id,
                run_id=run_id,
                channel=channel,
                holder=holder,
                now=self._timestamp(_utcnow()),
                stale_before=self._stale_before(stale_after),
            )
        return (holder, json.loads(rows[0]["payload"])) if rows else None

    def mark_alert_sent(
        self, dag_id: str, run_id: str, channel: str, holder: str, *, outcome: str = "sent", error: str = ""
    ) -> None:
        with self.transaction() as tx:
            tx.run(
                "mark_alert_sent",
                dag_id=dag_id,
                run_id=run_id,
                channel=channel,
                holder=holder,
                outcome=outcome,
                error=error[:500] or None,
                now=self._timestamp(_utcnow()),
            )

    def release_alert(self, dag_id: str, run_id: str, channel: str, holder: str, *, error: str) -> None:
        with self.transaction() as tx:
            tx.run(
                "release_alert",
                dag_id=dag_id,
                run_id=run_id,
                channel=channel,
                holder=holder,
                error=error[:500],
            )

    def alert_state(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The alert rows of one run (for tests and people): channel, sent_at, attempts, last_error."""
        with self.transaction() as tx:
            return tx.run("alert_state", dag_id=dag_id, run_id=run_id)

    def _stale_before(self, stale_after: timedelta) -> Any:
        return self._timestamp(_utcnow() - stale_after)

    # -- the asset event ------------------------------------------------------------------------

    def onboarded_by_run(self, run_id: str) -> list[dict[str, Any]]:
        """Keys and AvePoint ids of the customers ``run_id`` onboarded."""
        with self.transaction() as tx:
            return tx.run("onboarded_by_run", run_id=run_id)

    # -- reconciliation -------------------------------------------------------------------------

    def reconciliation_rows(self) -> list[dict[str, Any]]:
        """Every row's key, status, account and AvePoint id (never the password)."""
        with self.transaction() as tx:
            return tx.run("reconciliation_rows")

    def drift_findings(self, run_id: str) -> list[dict[str, Any]]:
        with self.transaction() as tx:
            return tx.run("drift_findings", run_id=run_id)

    def record_reconciliation(
        self,
        run_id: str,
        findings: Sequence[Mapping[str, Any]],
        settlements: Sequence[Mapping[str, Any]],
    ) -> list[str]:
        """Settle rows and record the run's findings in one transaction; return the keys settled.

        A settlement whose row changed status meanwhile (a run claimed it) is dropped, with its
        finding: the row is left to its run.
        """
        now = self._timestamp(_utcnow())
        settled: list[str] = []
        with self.transaction() as tx:
            for item in settlements:
                rows = tx.update(
                    "settle_onboarded",
                    read="settled_row",
                    key=item["customer_key"],
                    customer_id=item["avepoint_customer_id"],
                    reason=item["reason"],
                    settleable=[s.value for s in SETTLEABLE],
                    now=now,
                )
                if rows:
                    settled.append(item["customer_key"])
                    self._event(
                        tx,
                        item["customer_key"],
                        run_id,
                        None,
                        None,
                        EVENT_RECONCILED,
                        item["reason"],
                        now=now,
                    )
            for finding in findings:
                if finding["kind"] == "settled" and finding["customer_key"] not in settled:
                    continue
                tx.run(
                    "record_drift",
                    run_id=run_id,
                    now=now,
                    kind=finding["kind"],
                    customer_key=finding.get("customer_key"),
                    customer_id=finding.get("avepoint_customer_id"),
                    detail=finding["detail"][:2000],
                )
        return settled

    # -- the audit report -----------------------------------------------------------------------

    def report_rows(self, statuses: Sequence[str]) -> list[dict[str, Any]]:
        """Rows in ``statuses`` with the columns a human needs; never the password."""
        with self.transaction() as tx:
            return tx.run("report_rows", statuses=[str(s) for s in statuses])

    def report_events(self, statuses: Sequence[str], per_row: int) -> list[dict[str, Any]]:
        """The last ``per_row`` events of each row in ``statuses``, newest first."""
        with self.transaction() as tx:
            return tx.run("report_events", statuses=[str(s) for s in statuses], per_row=int(per_row))
