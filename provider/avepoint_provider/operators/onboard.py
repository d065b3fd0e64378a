"""Operator that onboards one customer row of the ``customer_onboarding`` table to AvePoint.

The DAG file imports this module at parse time, in the scheduler's parse loop and again in every
task process, so it imports only ``airflow.sdk`` at module level: the hook (``requests``,
``tenacity``), the warehouse and the lifecycle rules are imported when a task executes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

if TYPE_CHECKING:
    from airflow.sdk import Context

    from avepoint_provider.errors import AvePointError
    from avepoint_provider.hooks.avepoint import AvePointHook, OnboardResponse
    from avepoint_provider.warehouse import CustomerWarehouse

# AvePointHook.default_conn_name, spelled out so that parsing the DAG does not import the hook.
DEFAULT_AVEPOINT_CONN_ID = "avepoint_default"


class AvePointOnboardCustomerOperator(BaseOperator):
    """Onboard the customer ``customer_key`` of a ``customer_onboarding`` table held by this run.

    The operator is handed only the key: the row, password included, is read from the
    warehouse at execute time, so the password never passes through XCom, template
    fields or logs. Before anything is sent the attempt is counted in the row
    (write-ahead), and the outcome plus an events row are written before the task
    succeeds. A row that an earlier attempt may have created is looked up in AvePoint's
    list before it is sent again.

    :param customer_key: the row's ``customer_key``.
    :param customer_label: what a person sees for this task (e.g. key and organization); no secrets.
    :param avepoint_conn_id: the ``avepoint`` connection.
    :param warehouse_conn_id: the common-sql connection holding the table.
    :param table: the customer table (its events table is ``<table>_events``).
    :param max_attempts: attempts after which a ``retry`` outcome becomes ``failed``.
    :return: JSON-safe: ``customer_key``, ``outcome``, ``status``, ``api_status``,
        ``avepoint_customer_id``, ``reason``, ``http_status``, ``request_id``, ``attempt``.
    """

    template_fields: Sequence[str] = ("customer_key", "customer_label", "table", "max_attempts")
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        customer_key: str,
        customer_label: str | None = None,
        avepoint_conn_id: str = DEFAULT_AVEPOINT_CONN_ID,
        warehouse_conn_id: str = "customer_warehouse",
        table: str = "customer_onboarding",
        max_attempts: int = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.customer_key = customer_key
        self.customer_label = customer_label or customer_key
        self.avepoint_conn_id = avepoint_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.table = table
        self.max_attempts = max_attempts

    def execute(self, context: Context) -> dict[str, Any]:
        from avepoint_provider.errors import CONFIGURATION_ERRORS, AvePointError
        from avepoint_provider.hooks.avepoint import AvePointHook
        from avepoint_provider.lifecycle import REJECTED, final_status
        from avepoint_provider.warehouse import CustomerWarehouse, RunStopped

        run_id = context["run_id"]
        try_number = context["ti"].try_number
        key = str(self.customer_key)
        max_attempts = int(self.max_attempts)
        store = CustomerWarehouse(self.warehouse_conn_id, self.table)

        try:
            attempt = store.begin_attempt(key, run_id)
        except RunStopped as stop:
            store.release(run_id, key=key, reason=f"run {run_id} stopped before sending it: {stop}")
            raise AirflowSkipException(
                f"Customer {key}: not sent, the run stopped earlier ({stop})"
            ) from None
        if attempt is None:
            return self._already_settled(store, key, run_id)
        row = attempt.row
        self.log.info(
            "Customer %s (%s): attempt %d of %d, sending the onboarding request to AvePoint",
            key,
            row["organization_name"],
            attempt.number,
            max_attempts,
        )
        if attempt.number > 1:
            self.log.info(
                "An earlier attempt may have reached AvePoint: looking the account up before sending"
            )

        hook = AvePointHook(self.avepoint_conn_id)
        response: OnboardResponse | None = None
        error: AvePointError | None = None
        customer_id = None
        try:
            payload = customer_kwargs(row, password=row["password"])
            response = hook.onboard_customer(**payload, check_existing_first=attempt.number > 1)
            outcome, reason, customer_id = self._interpret(hook, response, payload["registration_account"])
        except CONFIGURATION_ERRORS as exc:
            # The connection is wrong, not the customer: the row goes back untouched, the run stops.
            self._stop_run(store, key, run_id, try_number, exc, hook)
        except ValueError as exc:
            outcome, reason = REJECTED, f"the row cannot be sent: {exc}"
        except AvePointError as exc:
            error = exc
            outcome, reason = _error_outcome(exc)
            self.log.warning("Customer %s: %s", key, reason)
        finally:
            hook.close()

        status = final_status(outcome, attempt.number, max_attempts)
        if status != outcome:
            reason = f"gave up after {attempt.number} attempts; last: {reason}"
        http_status = response.http_status if response else getattr(error, "http_status", None)
        api_status = response.api_status if response else None
        held = store.record_outcome(
            key,
            run_id,
            status=status,
            reason=reason,
            attempt=attempt.number,
            try_number=try_number,
            customer_id=customer_id,
            api_status=api_status,
            http_status=http_status,
            event_message=f"{reason} [{hook.requests_made} request(s)]",
        )
        if not held:
            raise AirflowFailException(
                f"Customer {key}: run {run_id} lost its claim on the row while sending it; "
                f"the outcome ({status}) is in the events table"
            )
        self.log.info("Outcome for customer %s: %s — %s", key, status, reason)
        return {
            "customer_key": key,
            "outcome": outcome,
            "status": status,
            "api_status": api_status,
            "avepoint_customer_id": customer_id,
            "reason": reason,
            "http_status": http_status,
            "request_id": response.request_id if response else None,
            "attempt": attempt.number,
        }

    def _interpret(
        self, hook: AvePointHook, response: OnboardResponse, account: str
    ) -> tuple[str, str, str | None]:
        """Outcome, reason and AvePoint id for a reply, asking the list endpoint where needed."""
        from avepoint_provider.lifecycle import CONFLICT, ONBOARDED, RETRY, decide, describe

        if response.found_by_lookup:
            return (
                ONBOARDED,
                "found in AvePoint's customer list after an earlier attempt that may have created it; "
                "not sent again",
                response.customer_id,
            )
        self.log.info(
            "AvePoint answered HTTP %s with %s; request-id %s",
            response.http_status,
            "no status" if response.api_status is None else describe(response.api_status),
            response.request_id or "none",
        )
        decision = decide(response.api_status, response.customer_id)
        if not decision.needs_lookup:
            return decision.outcome, decision.reason, response.customer_id
        self.log.info("Looking the account up in this partner's customer list")
        found = hook.find_customer_by_account(account)
        if found is not None:
            found_id = str(found.get("id")) if found.get("id") else None
            return ONBOARDED, f"{decision.reason}, and it is in this partner's customer list", found_id
        if decision.outcome == CONFLICT:
            return (
                CONFLICT,
                f"{decision.reason}, under another partner: it is not in this partner's customer list",
                None,
            )
        return RETRY, f"{decision.reason}, but without an id and not listed yet; checking again later", None

    def _already_settled(self, store: CustomerWarehouse, key: str, run_id: str) -> dict[str, Any]:
        """An earlier try of this task already recorded the outcome, or another run holds the row."""
        from avepoint_provider.warehouse import FINAL_STATUSES

        state = store.row_state(key)
        if state is None:
            raise AirflowFailException(f"Customer {key}: no such row in {self.table}")
        if state["claimed_by"] == run_id and state["status"] in FINAL_STATUSES:
            self.log.info("Customer %s: outcome already recorded by an earlier try: %s", key, state["status"])
            return {
                "customer_key": key,
                "outcome": state["status"],
                "status": state["status"],
                "api_status": state["api_status"],
                "avepoint_customer_id": state["avepoint_customer_id"],
                "reason": state["status_reason"],
                "http_status": None,
                "request_id": None,
                "attempt": state["attempts"],
            }
        raise AirflowSkipException(
            f"Customer {key}: not held by run {run_id} (status {state['status']}, "
            f"claimed by {state['claimed_by']}); not sent"
        )

    def _stop_run(
        self,
        store: CustomerWarehouse,
        key: str,
        run_id: str,
        try_number: int,
        error: AvePointError,
        hook: AvePointHook,
    ) -> None:
        """A configuration error: give the row back untouched and fail the task without retrying."""
        message = f"{type(error).__name__}: {error}"
        rows = store.release(
            run_id,
            key=key,
            reason=f"run {run_id} stopped on a configuration error before onboarding it: {error}",
            # Undo the attempt unless a request may have reached AvePoint before the error.
            undo_attempt=not hook.onboarding_may_have_reached,
            try_number=try_number,
            stop_message=message,
        )
        back_to = rows[0]["status"] if rows else "its previous status"
        raise AirflowFailException(
            f"Customer {key}: {error}. Fix the {self.avepoint_conn_id!r} connection; "
            f"the row went back to {back_to} and the run stops."
        ) from None


def _error_outcome(error: AvePointError) -> tuple[str, str]:
    """Outcome and reason for an error that is the customer's or AvePoint's, not the connection's."""
    from avepoint_provider.errors import AvePointClientError, AvePointTransientError
    from avepoint_provider.lifecycle import REJECTED, RETRY

    if isinstance(error, AvePointClientError):
        return REJECTED, f"AvePoint refused the request: {error}"
    if isinstance(error, AvePointTransientError):
        return RETRY, f"no definite answer from AvePoint after in-run retries: {error}"
    return RETRY, f"unexpected reply from AvePoint: {error}"


def customer_kwargs(row: Mapping[str, Any], *, password: str | None) -> dict[str, Any]:
    """``AvePointHook.onboard_customer`` keyword arguments from a table row.

    Raises ``ValueError`` for a row that cannot be sent (no password, malformed tags).
    """
    tags = row.get("tags")
    if tags in (None, ""):
        tags = None
    else:
        tags = json.loads(tags) if isinstance(tags, str) else tags
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError("tags is not a JSON array of strings")
    if not password:
        raise ValueError("the password is missing")
    mode = row.get("management_mode")
    return {
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "organization_name": row["organization_name"],
        "registration_account": row["registration_account"],
        "country_code": row["country_code"],
        "data_center": row["data_center"],
        "password": password,
        "telephone_number": row.get("telephone_number") or None,
        "tags": tags,
        "management_mode": None if mode is None else bool(mode),
    }
