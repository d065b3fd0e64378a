"""The operations tables beside the customer table: alerts owed and sent, and reconciliation drift.

:class:`OperationsWarehouse` is the :class:`~include.onboarding.warehouse.CustomerWarehouse` with
three more tables and the queries that alerts, reconciliation, the Asset event and the audit
report run:

- ``<table>_alerts``: one row per DAG, run and channel; ``outcome`` NULL while the alert is owed,
  then ``sent``, ``dropped`` or ``dead``.
- ``<table>_drift``: one row per reconciliation finding per run, with its ``state``.
- ``<table>_drift_state``: one row per finding over its life (first and last seen, closed,
  acknowledged).

Its SQL lives in ``sql/common/`` like the warehouse's, one file per method, bound parameters only;
the tables' names are the identifiers it adds (:meth:`more_tables`). The tables are created by
:meth:`create_operations_tables`, once per run, by the step that first needs them.

Why a table for alerts: "one alert per run" must survive a retried or re-run step and a mail
server that is down, so the marker lives where the rows' statuses live, in the same warehouse,
written in its own transaction (or in the transaction that records what the alert is about).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from include.onboarding.status import Status
from include.onboarding.warehouse import CustomerWarehouse, _utcnow

if TYPE_CHECKING:
    from include.onboarding.statements import Transaction as _Transaction

log = logging.getLogger(__name__)

# Reconciliation may settle a row in these statuses as onboarded (never one in_progress).
SETTLEABLE = (Status.CONFLICT, Status.RETRY)
EVENT_RECONCILED = "reconciled"
# The tables this store adds, by the template variable its SQL names them with.
OPERATIONS_TABLES = {
    "alerts_table": "_alerts",
    "drift_table": "_drift",
    "drift_state_table": "_drift_state",
}
# An alert's outcomes (NULL while owed).
SENT, DROPPED, DEAD = "sent", "dropped", "dead"


class OperationsWarehouse(CustomerWarehouse):
    """The customer warehouse plus its alerts and drift tables."""

    def more_tables(self) -> dict[str, str]:
        tables = {}
        limit = self.dialect.max_identifier
        for variable, suffix in OPERATIONS_TABLES.items():
            name = self.operations_table.beside(suffix)
            if limit and len(name.name.encode()) > limit:
                raise ValueError(
                    f"table name {self.table_name.name!r} is too long: with the suffix {suffix} it exceeds "
                    f"{self.dialect.name}'s {limit} bytes and would be truncated or refused"
                )
            tables[variable] = name.quoted
        return super().more_tables() | tables

    def create_operations_tables(self) -> None:
        """Create the operations tables if missing; add the drift table's ``state`` to an older one."""
        drift = self.operations_table.beside(OPERATIONS_TABLES["drift_table"])
        with self.transaction() as tx:
            tx.script("create_operations_tables")
            if "state" not in (self.dialect.table_columns(tx.connection, drift) or set()):
                log.warning("Adding the column state to %s (what each finding is to its run)", drift.quoted)
                tx.script("add_drift_columns")

    # -- alerts ---------------------------------------------------------------------------------

    def owe_alert(
        self, dag_id: str, run_id: str, channels: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        """Record that ``run_id`` owes an alert on each channel; an alert already recorded stays as it is."""
        with self.transaction() as tx:
            self._owe_alert(tx, dag_id, run_id, channels, payload, now=self._timestamp(_utcnow()))

    def _owe_alert(
        self,
        tx: _Transaction,
        dag_id: str,
        run_id: str,
        channels: Iterable[str],
        payload: Mapping[str, Any],
        *,
        now: Any,
    ) -> None:
        text = json.dumps(payload, sort_keys=True)
        for channel in channels:
            tx.run("owe_alert", dag_id=dag_id, run_id=run_id, channel=channel, now=now, payload=text)

    def owed_alerts(self, *, stale_after: timedelta, per_channel: int) -> list[dict[str, Any]]:
        """Alerts owed and not being sent right now: per channel, oldest first, ``per_channel`` at most."""
        with self.transaction() as tx:
            return tx.run(
                "owed_alerts", stale_before=self._stale_before(stale_after), per_channel=int(per_channel)
            )

    def lease_alert(
        self, dag_id: str, run_id: str, channel: str, *, stale_after: timedelta
    ) -> tuple[str, dict[str, Any], int] | None:
        """Take one owed alert for sending: ``(holder, payload, attempts)``, or None if sent or being sent."""
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
        return (holder, json.loads(rows[0]["payload"]), int(rows[0]["attempts"])) if rows else None

    def settle_alert(
        self, dag_id: str, run_id: str, channel: str, holder: str, *, outcome: str, error: str = ""
    ) -> None:
        """Give a leased alert its final outcome (``sent``, ``dropped`` or ``dead``)."""
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            tx.run(
                "settle_alert",
                dag_id=dag_id,
                run_id=run_id,
                channel=channel,
                holder=holder,
                outcome=outcome,
                sent_at=now if outcome == SENT else None,
                error=error[:500] or None,
            )

    def release_alert(self, dag_id: str, run_id: str, channel: str, holder: str, *, error: str) -> None:
        """Sending failed: the alert stays owed, with the error, for a later pass."""
        with self.transaction() as tx:
            tx.run(
                "release_alert",
                dag_id=dag_id,
                run_id=run_id,
                channel=channel,
                holder=holder,
                error=error[:500],
            )

    def dead_alerts(self) -> int:
        """How many alerts were set aside after too many failed attempts."""
        with self.transaction() as tx:
            return int(tx.run("dead_alerts", dead=DEAD)[0]["n"])

    def _stale_before(self, stale_after: timedelta) -> Any:
        return self._timestamp(_utcnow() - stale_after)

    # -- the asset event ------------------------------------------------------------------------

    def onboarded_by_run(self, run_id: str) -> list[dict[str, Any]]:
        """Keys and AvePoint ids of the customers ``run_id`` onboarded."""
        with self.transaction() as tx:
            return tx.run("onboarded_by_run", run_id=run_id)

    # -- reconciliation -------------------------------------------------------------------------

    def reconciliation_rows(self) -> list[dict[str, Any]]:
        """Every row's key, status, account, organization and AvePoint id (never the password)."""
        with self.transaction() as tx:
            return tx.run("reconciliation_rows")

    def open_drift(self) -> list[dict[str, Any]]:
        """The findings that stand (not closed): key, kind, customer key, AvePoint id, detail, acknowledgement."""
        with self.transaction() as tx:
            return tx.run("open_drift")

    def drift_counts(self, run_id: str) -> list[dict[str, Any]]:
        """How many rows of each kind and state ``run_id`` recorded in the drift table (none: it has not)."""
        with self.transaction() as tx:
            return tx.run("drift_counts", run_id=run_id)

    def record_reconciliation(
        self,
        run_id: str,
        *,
        settlements: Sequence[Mapping[str, Any]],
        findings: Sequence[Mapping[str, Any]],
        opened: Sequence[Mapping[str, Any]],
        seen: Sequence[Mapping[str, Any]],
        closed: Sequence[str],
        alert: tuple[str, Sequence[str], Mapping[str, Any]] | None = None,
    ) -> list[Mapping[str, Any]]:
        """Write one reconciliation run in one transaction; return the drift rows written.

        ``settlements`` (key, AvePoint id, reason, and the ``finding`` recording it) set rows
        ``onboarded``; one whose row changed status meanwhile (a run claimed it) is dropped with
        its finding. ``findings`` are the run's other drift rows (kind, key, id, detail, state);
        ``opened``, ``seen`` and ``closed`` move the findings' lives on; ``alert``
        (``dag_id``, channels, payload) is owed with them, so a crash records both or neither.
        """
        now = self._timestamp(_utcnow())
        written: list[Mapping[str, Any]] = []
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
                    written.append(item["finding"])
            written += findings
            for finding in written:
                tx.run(
                    "record_drift",
                    run_id=run_id,
                    now=now,
                    kind=finding["kind"],
                    customer_key=finding.get("customer_key"),
                    customer_id=finding.get("avepoint_customer_id"),
                    detail=finding["detail"][:2000],
                    state=finding["state"],
                )
            for finding in opened:
                tx.run("forget_closed_finding", finding_key=finding["finding_key"])
                tx.run(
                    "open_finding",
                    finding_key=finding["finding_key"],
                    kind=finding["kind"],
                    customer_key=finding.get("customer_key"),
                    customer_id=finding.get("avepoint_customer_id"),
                    detail=finding["detail"][:2000],
                    run_id=run_id,
                    now=now,
                    acknowledged_by=finding.get("acknowledged_by"),
                    acknowledged_at=now if finding.get("acknowledged_by") else None,
                )
            for finding in seen:
                tx.run(
                    "see_finding",
                    finding_key=finding["finding_key"],
                    detail=finding["detail"][:2000],
                    run_id=run_id,
                    now=now,
                )
            for finding_key in closed:
                tx.run("close_finding", finding_key=finding_key, run_id=run_id, now=now)
            if alert is not None:
                dag_id, channels, payload = alert
                self._owe_alert(tx, dag_id, run_id, channels, payload, now=now)
        return written

    def acknowledge_drift(self, names: Iterable[str], *, by: str) -> int:
        """Acknowledge open findings named by customer key, AvePoint id or finding key; return how many.

        An acknowledged finding stays quiet (recorded as ``acknowledged``, never alerted) until a
        run no longer finds it. For the review DAG, or a person with warehouse access::

            OperationsWarehouse("customer_warehouse", table).acknowledge_drift(["CUST-7"], by="ann")
        """
        wanted = sorted({str(n) for n in names if str(n).strip()})
        if not wanted:
            return 0
        with self.transaction() as tx:
            tx.run("acknowledge_drift", names=wanted, by=str(by)[:200], now=self._timestamp(_utcnow()))
            return tx.rowcount

    # -- the audit report -----------------------------------------------------------------------

    def report_rows(self, statuses: Sequence[str]) -> list[dict[str, Any]]:
        """Rows in ``statuses`` with the columns a human needs; never the password."""
        with self.transaction() as tx:
            return tx.run("report_rows", statuses=[str(s) for s in statuses])

    def report_events(self, statuses: Sequence[str], per_row: int) -> list[dict[str, Any]]:
        """The last ``per_row`` events of each row in ``statuses``, newest first."""
        with self.transaction() as tx:
            return tx.run("report_events", statuses=[str(s) for s in statuses], per_row=int(per_row))
