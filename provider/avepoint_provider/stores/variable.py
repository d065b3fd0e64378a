"""An onboarding store for a customer given directly to a DAG: no table, just Airflow objects.

The customer's fields come in three places, each where it belongs:

* the non-secret fields (names, organization, account, country, data center, phone, tags, mode)
  are written by a task of the DAG (usually from the run's params) with :meth:`register`;
* the password is read at execute time from the password field of an Airflow Connection, so it
  can live in any secrets backend and never passes through params, XCom, template fields or logs;
* the write-ahead state (attempts, the holding run, the outcome, a run's stop message and the
  last events) is one JSON Airflow Variable per customer, ``<variable_prefix><key>``.

Because the attempt count survives the task and the run, a retried task or a later run never
POSTs blindly: its attempt is numbered above 1, so the operator looks the account up first, and a
customer recorded ``onboarded`` is never sent again. One that ended ``rejected``, ``conflict`` or
``failed`` is tried again by a later run (after the look-up); its attempt count keeps growing, so
past the operator's ``max_attempts`` a ``retry`` answer is ``failed`` at once.

A Variable has no compare-and-set: two runs onboarding the *same* key at the same time are not
protected from each other (give the DAG ``max_active_runs=1``, or use a store over a table that
can claim rows atomically). Different keys never share a Variable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from avepoint_provider.customer import Customer
from avepoint_provider.outcomes import Attempt, OnboardOutcome
from avepoint_provider.store import OnboardingStore, RunStopped, UnknownCustomer

log = logging.getLogger(__name__)

DEFAULT_VARIABLE_PREFIX = "avepoint_onboarding_state."
# Variable keys travel in the Execution API's URL path: keep them to characters that need no quoting.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_.@+-]{1,200}")
NON_SECRET_FIELDS = tuple(name for name in Customer.field_names() if name != "password")
ONBOARDED = "onboarded"
# While an attempt is in flight: a crash leaves this status and the counted attempt behind.
SENDING = "sending"
PENDING = "pending"
MAX_EVENTS = 20
# Only used to validate the fields in register(); never sent, never stored.
_PLACEHOLDER_PASSWORD = "placeholder"


class MissingPasswordError(ValueError):
    """The password connection is missing or has no password. The message never holds a value."""


class VariableOnboardingStore(OnboardingStore):
    """Onboarding state in one Airflow Variable per customer; the password in a Connection.

    Construction stores names only (the DAG file builds the store at parse time); every Variable
    and Connection is read inside a task. The store never keeps the password: it reads it in
    :meth:`begin_attempt`, puts it into the :class:`~avepoint_provider.customer.Customer` it hands
    to the operator, and forgets it.

    :param password_conn_id: the Connection whose *password* is the customer's initial password;
        :meth:`register` can name another one per customer.
    :param variable_prefix: the state of customer ``key`` is the Variable ``<variable_prefix><key>``.
    """

    def __init__(
        self,
        password_conn_id: str = "avepoint_customer_password",
        *,
        variable_prefix: str = DEFAULT_VARIABLE_PREFIX,
    ) -> None:
        self.password_conn_id = password_conn_id
        self.variable_prefix = variable_prefix

    def __repr__(self) -> str:
        return (
            f"VariableOnboardingStore(password_conn_id={self.password_conn_id!r}, "
            f"variable_prefix={self.variable_prefix!r})"
        )

    # -- for the DAG ------------------------------------------------------------------------------

    def register(self, key: str, fields: Mapping[str, Any], *, password_conn_id: str | None = None) -> str:
        """Store the customer's non-secret ``fields`` under ``key``; call it from a task. Returns ``key``.

        The attempts and outcome already kept for ``key`` stay: registering again (a new run with
        the same params) makes the next attempt look the account up before sending, and leaves an
        onboarded customer alone. Raises :class:`ValueError` for a bad key, a ``password`` in
        ``fields`` (it belongs in the Connection) or a field that cannot be sent.
        """
        _check_key(key)
        if "password" in fields:
            raise ValueError(
                "fields must not hold the password: put it in the password connection "
                f"({password_conn_id or self.password_conn_id!r})"
            )
        unknown = sorted(set(fields) - set(NON_SECRET_FIELDS))
        if unknown:
            raise ValueError(f"unknown customer fields: {', '.join(unknown)}")
        customer = Customer.from_mapping({**fields, "password": _PLACEHOLDER_PASSWORD})
        state = self._load(key) or {
            "status": PENDING,
            "attempts": 0,
            "holder": None,
            "outcome": None,
            "outcome_run_id": None,
            "stop": None,
            "previous_status": None,
            "events": [],
        }
        state["customer"] = {name: getattr(customer, name) for name in NON_SECRET_FIELDS}
        # JSON has no tuple; no tags at all rather than an empty list in the request.
        state["customer"]["tags"] = list(customer.tags) if customer.tags else None
        state["password_conn_id"] = password_conn_id or self.password_conn_id
        if state["status"] == ONBOARDED:
            log.info("Customer %s is already onboarded: it will not be sent again", key)
        self._save(key, state, f"registered ({state['status']}, {state['attempts']} attempt(s) so far)")
        return key

    def state(self, key: str) -> dict[str, Any] | None:
        """What the store keeps for ``key`` (no password is ever in it), or None."""
        return self._load(key)

    # -- OnboardingStore ---------------------------------------------------------------------------

    def begin_attempt(self, key: str, run_id: str) -> Attempt | None:
        """Count an attempt and hand over the customer with the password read just now.

        None when this run already recorded an outcome, or any run recorded ``onboarded``: that
        customer is settled. A missing password raises :class:`MissingPasswordError` and counts
        nothing.
        """
        state = self._require(key)
        stop = state.get("stop")
        if stop and stop["run_id"] == run_id:
            raise RunStopped(stop["message"])
        if self._settled_for(state, run_id):
            return None
        customer = Customer.from_mapping({**state["customer"], "password": self._password(state)})
        state["attempts"] += 1
        state["holder"] = run_id
        state["stop"] = None
        if state["status"] != SENDING:
            state["previous_status"] = state["status"]
        state["status"] = SENDING
        self._save(key, state, f"attempt {state['attempts']} by run {run_id}: sending")
        return Attempt(number=state["attempts"], customer=customer)

    def record_outcome(
        self, outcome: OnboardOutcome, *, run_id: str, try_number: int | None, event_message: str
    ) -> bool:
        key = outcome.customer_key
        state = self._require(key)
        event = f"run {run_id} try {try_number}: {outcome.status}: {event_message}"
        if state.get("holder") != run_id:
            # A later run took the customer over while this attempt was sending: keep its word as an event.
            self._save(key, state, f"{event} (not recorded: run {state.get('holder')} holds the customer)")
            return False
        state["outcome"] = outcome.to_dict()
        state["outcome_run_id"] = run_id
        state["status"] = outcome.to_dict()["status"]
        self._save(key, state, event)
        return True

    def recorded_outcome(self, key: str, run_id: str) -> OnboardOutcome | None:
        """This run's recorded outcome, or the outcome of the run that onboarded the customer."""
        state = self._require(key)
        if not self._settled_for(state, run_id):
            return None
        outcome = OnboardOutcome(**state["outcome"])
        if state["outcome_run_id"] != run_id:
            reason = f"already onboarded by run {state['outcome_run_id']}; not sent again ({outcome.reason})"
            outcome = OnboardOutcome(**{**state["outcome"], "reason": reason})
        return outcome

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
        state = self._require(key)
        if state.get("holder") == run_id and state["status"] == SENDING:
            state["status"] = state.get("previous_status") or PENDING
            if undo_attempt:
                state["attempts"] -= 1
        if stop_message:
            state["stop"] = {"run_id": run_id, "message": stop_message}
        self._save(key, state, f"run {run_id} try {try_number}: released: {reason}")
        return str(state["status"])

    # -- storage -----------------------------------------------------------------------------------

    def variable_key(self, key: str) -> str:
        _check_key(key)
        return f"{self.variable_prefix}{key}"

    def _load(self, key: str) -> dict[str, Any] | None:
        from airflow.sdk import Variable

        return Variable.get(self.variable_key(key), default=None, deserialize_json=True)

    def _require(self, key: str) -> dict[str, Any]:
        state = self._load(key)
        if state is None or not state.get("customer"):
            raise UnknownCustomer(
                f"no customer registered under {key!r} (Variable {self.variable_key(key)!r}): "
                "register it with VariableOnboardingStore.register() in an earlier task"
            )
        return state

    def _save(self, key: str, state: dict[str, Any], event: str) -> None:
        from airflow.sdk import Variable

        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        state["events"] = [*state.get("events", []), f"{stamp} {event}"][-MAX_EVENTS:]
        Variable.set(
            self.variable_key(key),
            state,
            description="AvePoint onboarding state of one customer (VariableOnboardingStore); no password",
            serialize_json=True,
        )

    @staticmethod
    def _settled_for(state: dict[str, Any], run_id: str) -> bool:
        """This run recorded its outcome, or some run onboarded the customer: nothing more to send."""
        if state.get("outcome") is None:
            return False
        return state["outcome_run_id"] == run_id or state["status"] == ONBOARDED

    @staticmethod
    def _password(state: dict[str, Any]) -> str:
        from airflow.sdk import BaseHook
        from airflow.sdk.log import mask_secret

        conn_id = state["password_conn_id"]
        password = BaseHook.get_connection(conn_id).password
        if not password:
            raise MissingPasswordError(
                f"connection {conn_id!r} has no password: set it to the customer's initial password"
            )
        mask_secret(password)
        return password


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise ValueError(f"customer key {key!r} must be 1-200 letters, digits or the characters _ . @ + -")
