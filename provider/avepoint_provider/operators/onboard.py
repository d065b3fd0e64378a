"""Operator that onboards one customer to AvePoint, exactly once, through an onboarding store.

The DAG file imports this module at parse time, in the scheduler's parse loop and again in every
task process, so it imports only ``airflow.sdk`` at module level: the hook (``requests``,
``tenacity``) and the outcome rules are imported when a task executes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, XComArg
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

if TYPE_CHECKING:
    from airflow.sdk import Context

    from avepoint_provider.errors import AvePointError
    from avepoint_provider.hooks.avepoint import OnboardResponse
    from avepoint_provider.outcomes import Outcome
    from avepoint_provider.store import OnboardingStore

# AvePointHook.default_conn_name, spelled out so that parsing the DAG does not import the hook.
DEFAULT_AVEPOINT_CONN_ID = "avepoint_default"


# Outcomes a person must act on: the task ends failed (red in the grid) once the outcome is recorded.
NEEDS_HUMAN = frozenset({"rejected", "conflict", "failed", "invalid"})


class CustomerNeedsHuman(AirflowFailException):
    """The customer's outcome is recorded and needs a person (rejected, conflict, failed, invalid).

    Raised after the store holds the outcome, so the task shows failed in the grid, is not retried,
    and the run, whose job this was, goes on. ``outcome`` is the task's result (also its XCom).
    """

    def __init__(self, message: str, outcome: dict[str, Any]) -> None:
        super().__init__(message)
        self.outcome = outcome


class AvePointOnboardCustomerOperator(BaseOperator):
    """Onboard the customer ``customer_key`` that ``store`` holds for this run.

    The operator is handed only the key: the customer, password included, comes from the
    store at execute time, so the password never passes through XCom, template fields or
    logs. Before anything is sent the store counts the attempt (write-ahead); the outcome is
    recorded in the store before the task succeeds. A customer that an earlier attempt may
    have created is looked up in AvePoint's list before it is sent again.

    Nothing is a template: the key and the label are data (a warehouse row's, mapped through XCom),
    and Airflow renders a mapped task's template fields, XCom values included. A key given as an
    upstream task's output (an ``XComArg``) is resolved at execute time, never rendered.

    :param customer_key: the customer's key in the store, or an upstream task's output holding it.
    :param store: where attempts and outcomes are kept (see :mod:`avepoint_provider.store`).
    :param customer_label: what a person sees for this task (e.g. key and organization), plain text;
        no secrets. The task's :attr:`label` adds the outcome once it is known.
    :param avepoint_conn_id: the ``avepoint`` connection.
    :param max_attempts: attempts after which a ``retry`` outcome becomes ``failed``.
    :param fail_when_needs_human: end the task failed (not retried, see :class:`CustomerNeedsHuman`)
        once an outcome a person must act on is recorded, so the grid tells it apart from a done one.
    :return: :meth:`~avepoint_provider.outcomes.OnboardOutcome.to_dict`: ``customer_key``, ``outcome``,
        ``status``, ``reason``, ``attempt``, ``api_status``, ``avepoint_customer_id``,
        ``http_status``, ``request_id``.
    """

    template_fields: Sequence[str] = ()
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        customer_key: str | XComArg,
        store: OnboardingStore,
        customer_label: str | None = None,
        avepoint_conn_id: str = DEFAULT_AVEPOINT_CONN_ID,
        max_attempts: int = 5,
        fail_when_needs_human: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.customer_key = customer_key
        self.store = store
        self.customer_label = customer_label
        self.avepoint_conn_id = avepoint_conn_id
        self.max_attempts = max_attempts
        self.fail_when_needs_human = fail_when_needs_human
        # The status the customer ended in (or what stopped the task), once known: for the label.
        self.outcome: str | None = None
        # An upstream task's output: that task runs first (Airflow does this for template fields only).
        XComArg.apply_upstream_relationship(self, customer_key)

    @property
    def label(self) -> str:
        """``<customer_label> — <outcome>``: what ``map_index_template="{{ task.label }}"`` shows.

        Airflow renders that template after execute, so the outcome appears once the task has run.
        The text is inserted as is, never rendered itself.
        """
        label = self.customer_label or (
            "" if isinstance(self.customer_key, XComArg) else str(self.customer_key)
        )
        return f"{label} — {self.outcome}" if self.outcome else label

    def execute(self, context: Context) -> dict[str, Any]:
        if isinstance(self.customer_key, XComArg):
            self.customer_key = self.customer_key.resolve(context)
        key = str(self.customer_key)
        try:
            result = self._onboard(key, context)
        except AirflowSkipException:
            self.outcome = self.outcome or "not sent"
            raise
        except BaseException:
            self.outcome = self.outcome or "error"
            raise
        self.outcome = result["status"]
        if self.fail_when_needs_human and result["status"] in NEEDS_HUMAN:
            context["ti"].xcom_push(key="return_value", value=result)
            raise CustomerNeedsHuman(
                f"Customer {key} needs a human: {result['status']} — {result['reason']}. The outcome is "
                "recorded; this task is marked failed so that the grid shows it, and is not retried.",
                result,
            )
        return result

    def _onboard(self, key: str, context: Context) -> dict[str, Any]:
        from airflow.sdk.log import mask_secret

        from avepoint_provider.errors import CONFIGURATION_ERRORS, AvePointError
        from avepoint_provider.hooks.avepoint import AvePointHook
        from avepoint_provider.outcomes import OnboardOutcome, final_status
        from avepoint_provider.store import RunStopped, UnknownCustomer

        run_id = context["run_id"]
        try_number = context["ti"].try_number
        max_attempts = int(self.max_attempts)

        try:
            attempt = self.store.begin_attempt(key, run_id)
        except RunStopped as stop:
            self.store.release(
                key,
                run_id,
                reason=f"run {run_id} stopped before sending it: {stop}",
                undo_attempt=False,
                try_number=try_number,
                stop_message=None,
            )
            raise AirflowSkipException(
                f"Customer {key}: not sent, the run stopped earlier ({stop})"
            ) from None
        except UnknownCustomer as exc:
            raise AirflowFailException(f"Customer {key}: {exc}") from None
        if attempt is None:
            try:
                return self._already_settled(key, run_id)
            except UnknownCustomer as exc:
                raise AirflowFailException(f"Customer {key}: {exc}") from None
        customer = attempt.customer
        mask_secret(customer.password)
        self.log.info(
            "Customer %s (%s): attempt %d of %d, sending the onboarding request to AvePoint",
            key,
            customer.organization_name,
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
            response = hook.onboard_customer(customer, check_existing_first=attempt.number > 1)
            outcome, reason, customer_id = self._interpret(response)
        except CONFIGURATION_ERRORS as exc:
            # The connection is wrong, not the customer: the customer goes back untouched, the run stops.
            self._stop_run(key, run_id, try_number, exc, posted=response is not None)
        except AvePointError as exc:
            error = exc
            outcome, reason = _error_outcome(exc)
            self.log.warning("Customer %s: %s", key, reason)
        finally:
            hook.close()

        status = final_status(outcome, attempt.number, max_attempts)
        if status != outcome:
            reason = f"gave up after {attempt.number} attempts; last: {reason}"
        result = OnboardOutcome(
            customer_key=key,
            outcome=outcome,
            status=status,
            reason=reason,
            attempt=attempt.number,
            api_status=response.api_status if response else None,
            avepoint_customer_id=customer_id,
            http_status=response.http_status if response else getattr(error, "http_status", None),
            request_id=response.request_id if response else getattr(error, "request_id", None),
        )
        requests_made = response.requests_made if response else getattr(error, "requests_made", None)
        held = self.store.record_outcome(
            result,
            run_id=run_id,
            try_number=try_number,
            event_message=f"{reason} [{requests_made} request(s)]",
        )
        if not held:
            raise AirflowFailException(
                f"Customer {key}: run {run_id} lost its hold on the customer while sending it; "
                f"the outcome ({status}) was recorded as an event"
            )
        self.log.info("Outcome for customer %s: %s — %s", key, status, reason)
        return result.to_dict()

    def _interpret(self, response: OnboardResponse) -> tuple[Outcome, str, str | None]:
        """Outcome, reason and AvePoint id for a reply (and the look-up the hook made when the reply
        alone does not settle the customer)."""
        from avepoint_provider.outcomes import Outcome, decide, describe

        if response.found_by_lookup:
            return _listed(response.customer_id, "found in AvePoint's customer list after an earlier attempt "
                           "that may have created it; not sent again")  # fmt: skip
        self.log.info(
            "AvePoint answered HTTP %s with %s; request-id %s",
            response.http_status,
            "no status" if response.api_status is None else describe(response.api_status),
            response.request_id or "none",
        )
        decision = decide(response.api_status, response.customer_id)
        if not decision.needs_lookup:
            return decision.outcome, decision.reason, response.customer_id
        if response.listed:
            return _listed(
                response.customer_id, f"{decision.reason}, and it is in this partner's customer list"
            )
        if decision.outcome == Outcome.CONFLICT:
            return (
                Outcome.CONFLICT,
                f"{decision.reason}, under another partner: it is not in this partner's customer list",
                None,
            )
        return (
            Outcome.RETRY,
            f"{decision.reason}, but without an id and not listed yet; checking again later",
            None,
        )

    def _already_settled(self, key: str, run_id: str) -> dict[str, Any]:
        """The store has an outcome for this run already (an earlier try's, or a settled customer's),
        or the run does not hold the customer."""
        recorded = self.store.recorded_outcome(key, run_id)
        if recorded is None:
            raise AirflowSkipException(f"Customer {key}: not held by run {run_id}; not sent")
        self.log.info(
            "Customer %s: outcome already recorded, nothing sent: %s — %s",
            key,
            recorded.status,
            recorded.reason,
        )
        return recorded.to_dict()

    def _stop_run(
        self, key: str, run_id: str, try_number: int, error: AvePointError, *, posted: bool
    ) -> None:
        """A configuration error: give the customer back untouched and fail the task without retrying."""
        back_to = self.store.release(
            key,
            run_id,
            reason=f"run {run_id} stopped on a configuration error before onboarding it: {error}",
            # Undo the attempt unless a request may have reached AvePoint before the error.
            undo_attempt=not (posted or getattr(error, "may_have_reached", False)),
            try_number=try_number,
            stop_message=f"{type(error).__name__}: {error}",
        )
        self.outcome = "stopped"
        raise AirflowFailException(
            f"Customer {key}: {error}. Fix the {self.avepoint_conn_id!r} connection; "
            f"the customer went back to {back_to or 'its previous state'} and the run stops."
        ) from None


def _listed(customer_id: str | None, reason: str) -> tuple[Outcome, str, str | None]:
    """A customer found in the partner's list: onboarded with its id; without an id, not settled."""
    from avepoint_provider.outcomes import Outcome

    if customer_id:
        return Outcome.ONBOARDED, reason, customer_id
    # Recording it onboarded would erase the password and leave no id to reconcile by.
    return Outcome.RETRY, f"{reason}, but AvePoint lists it without an id; checking again later", None


def _error_outcome(error: AvePointError) -> tuple[Outcome, str]:
    """Outcome and reason for an error that is the customer's or AvePoint's, not the connection's."""
    from avepoint_provider.errors import AvePointClientError, AvePointTransientError
    from avepoint_provider.outcomes import Outcome

    if isinstance(error, AvePointClientError):
        return Outcome.REJECTED, f"AvePoint refused the request: {error}"
    if isinstance(error, AvePointTransientError):
        return Outcome.RETRY, f"no definite answer from AvePoint after in-run retries: {error}"
    return Outcome.RETRY, f"unexpected reply from AvePoint: {error}"
