"""The provider's onboarding store over this project's warehouse table.

The DAG file builds a :class:`WarehouseStore` at parse time and hands it to the operator's
``.partial()``: construction stores two names and imports nothing heavy; the warehouse (and the
Variable that names its table) is reached at execute time only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from avepoint_provider.store import OnboardingStore, UnknownCustomer

if TYPE_CHECKING:
    from avepoint_provider.outcomes import Attempt, OnboardOutcome
    from include.onboarding.warehouse import CustomerWarehouse


class WarehouseStore(OnboardingStore):
    """Attempts and outcomes live in the customer table and its events table.

    :param conn_id: the warehouse connection.
    :param table: the customer table; None reads it from the ``avepoint_onboarding`` Variable.
    """

    def __init__(self, conn_id: str = "customer_warehouse", table: str | None = None) -> None:
        self.conn_id = conn_id
        self.table = table
        self._run: tuple[str, CustomerWarehouse] | None = None

    def __repr__(self) -> str:
        return f"WarehouseStore(conn_id={self.conn_id!r}, table={self.table!r})"

    def warehouse(self, run_id: str) -> CustomerWarehouse:
        """The warehouse as configured for ``run_id``: read once per run, not once per process.

        A DAG file is parsed once for many runs where tasks share a process (``dag.test()``):
        each run sees its own connection and Variable.
        """
        from include.onboarding.config import OnboardingSettings
        from include.onboarding.warehouse import CustomerWarehouse

        if self._run is None or self._run[0] != run_id:
            if self._run is not None:
                self._run[1].dispose()
            settings = OnboardingSettings.load()
            warehouse = CustomerWarehouse(
                self.conn_id, self.table or settings.table, operations_schema=settings.operations_schema
            )
            self._run = (run_id, warehouse)
        return self._run[1]

    def begin_attempt(self, key: str, run_id: str) -> Attempt | None:
        from avepoint_provider.customer import Customer, InvalidCustomerError
        from avepoint_provider.outcomes import Attempt

        row = self.warehouse(run_id).begin_attempt(key, run_id)
        if row is None:
            return None
        try:
            customer = Customer.from_mapping(row)
        except InvalidCustomerError as exc:
            # Validation lets no such row through; a row edited after it is caught here.
            self.warehouse(run_id).mark_unsendable(key, run_id, f"the row cannot be sent: {exc}")
            return None
        return Attempt(number=int(row["attempts"]), customer=customer)

    def record_outcome(
        self, outcome: OnboardOutcome, *, run_id: str, try_number: int | None, event_message: str
    ) -> bool:
        return self.warehouse(run_id).record_outcome(
            outcome.customer_key,
            run_id,
            status=outcome.status,
            reason=outcome.reason,
            attempt=outcome.attempt,
            try_number=try_number,
            customer_id=outcome.avepoint_customer_id,
            api_status=outcome.api_status,
            http_status=outcome.http_status,
            event_message=event_message,
        )

    def recorded_outcome(self, key: str, run_id: str) -> OnboardOutcome | None:
        from avepoint_provider.outcomes import OnboardOutcome
        from include.onboarding.status import FINAL

        warehouse = self.warehouse(run_id)
        state = warehouse.row_state(key)
        if state is None:
            raise UnknownCustomer(f"no customer {key!r} in {warehouse.table}")
        if state["claimed_by"] != run_id or state["status"] not in FINAL:
            return None
        return OnboardOutcome(
            customer_key=key,
            outcome=state["status"],
            status=state["status"],
            reason=state["status_reason"],
            attempt=int(state["attempts"]),
            api_status=state["api_status"],
            avepoint_customer_id=state["avepoint_customer_id"],
        )

    def release(
        self,
        key: str,
        run_id: str,
        *,
        reason: str,
        undo_attempt: bool,
        try_number: int | None,
        stop_message: str | None,
    ) -> str | None:
        rows = self.warehouse(run_id).release_row(
            key,
            run_id,
            reason=reason,
            undo_attempt=undo_attempt,
            try_number=try_number,
            stop_message=stop_message,
        )
        return str(rows[0]["status"]) if rows else None
