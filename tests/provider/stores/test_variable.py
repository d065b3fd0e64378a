"""VariableOnboardingStore's bookkeeping, with Variables held as JSON text in a dict.

Airflow's ``Variable.set`` works only inside a task (through the Task SDK), so here the Variable
API is replaced by a dict that stores what Airflow would store (JSON text); the password comes
from a real Connection defined as an ``AIRFLOW_CONN_*`` variable. The example DAG's end-to-end
test (example_dags/test_example_avepoint_onboard_customer.py) runs the same store on real Variables.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from avepoint_provider.customer import InvalidCustomerError
from avepoint_provider.outcomes import OnboardOutcome
from avepoint_provider.store import RunStopped, UnknownCustomer
from avepoint_provider.stores.variable import MissingPasswordError, VariableOnboardingStore
from tests.conftest import set_connection

KEY = "ann@contoso.example"
PASSWORD = "Variable-Store-Secret-9!"
FIELDS = {
    "first_name": "Ann",
    "last_name": "Lee",
    "organization_name": "Contoso",
    "registration_account": "ann@contoso.example",
    "country_code": "US",
    "data_center": "e44bb3ed-f1d8-4055-8c77-c8fd8cd63409",
    "tags": ["vip"],
}
_MISSING = object()


class DictVariables:
    """``airflow.sdk.Variable``'s get/set over a dict of JSON text, counting every call."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.calls = 0

    def get(self, key: str, default: Any = _MISSING, deserialize_json: bool = False) -> Any:
        self.calls += 1
        if key not in self.values:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return json.loads(self.values[key]) if deserialize_json else self.values[key]

    def set(self, key: str, value: Any, description: str | None = None, serialize_json: bool = False) -> None:
        self.calls += 1
        self.values[key] = json.dumps(value) if serialize_json else value


@pytest.fixture
def variables(monkeypatch) -> DictVariables:
    import airflow.sdk

    fake = DictVariables()
    monkeypatch.setattr(airflow.sdk, "Variable", fake)
    return fake


@pytest.fixture
def store(variables, monkeypatch) -> VariableOnboardingStore:
    set_connection(monkeypatch, "avepoint_customer_password", conn_type="generic", password=PASSWORD)
    store = VariableOnboardingStore()
    store.register(KEY, FIELDS)
    return store


def outcome(status: str, attempt: int = 1) -> OnboardOutcome:
    return OnboardOutcome(
        customer_key=KEY, outcome=status, status=status, reason=f"it was {status}", attempt=attempt
    )


def test_construction_reads_nothing_and_the_repr_names_no_secret(variables):
    store = VariableOnboardingStore("customer_pw")
    assert variables.calls == 0
    assert repr(store) == (
        "VariableOnboardingStore(password_conn_id='customer_pw', variable_prefix='avepoint_onboarding_state.')"
    )


def test_register_keeps_the_non_secret_fields_in_one_variable_per_key(store, variables):
    assert list(variables.values) == [f"avepoint_onboarding_state.{KEY}"]
    state = store.state(KEY)
    assert state["customer"] == FIELDS | {"telephone_number": None, "management_mode": None}
    assert (state["status"], state["attempts"], state["password_conn_id"]) == (
        "pending",
        0,
        "avepoint_customer_password",
    )


@pytest.mark.parametrize(
    ("key", "fields", "error"),
    [
        (KEY, FIELDS | {"password": PASSWORD}, "must not hold the password"),
        (KEY, FIELDS | {"colour": "red"}, "unknown customer fields: colour"),
        ("a/b", FIELDS, "must be 1-200 letters, digits"),
        (KEY, {k: v for k, v in FIELDS.items() if k != "first_name"}, "first_name is missing"),
    ],
    ids=["password", "unknown-field", "bad-key", "missing-field"],
)
def test_register_refuses_what_it_cannot_keep_or_send(variables, key, fields, error):
    with pytest.raises((ValueError, InvalidCustomerError), match=error) as raised:
        VariableOnboardingStore().register(key, fields)
    assert PASSWORD not in str(raised.value)
    assert variables.values == {}


def test_begin_attempt_counts_first_and_hands_over_the_password_from_the_connection(store, variables):
    attempt = store.begin_attempt(KEY, "run-1")
    assert attempt.number == 1
    assert attempt.customer.password == PASSWORD
    assert attempt.customer.tags == ("vip",)
    state = store.state(KEY)
    assert (state["attempts"], state["status"], state["holder"]) == (1, "sending", "run-1")
    assert PASSWORD not in json.dumps(variables.values)


def test_an_unknown_key_is_reported(store):
    with pytest.raises(UnknownCustomer, match="no customer registered under 'bob@contoso.example'"):
        store.begin_attempt("bob@contoso.example", "run-1")


def test_a_missing_password_counts_nothing_and_names_only_the_connection(variables, monkeypatch):
    set_connection(monkeypatch, "no_password", conn_type="generic", login="someone")
    store = VariableOnboardingStore("no_password")
    store.register(KEY, FIELDS)
    with pytest.raises(MissingPasswordError, match="connection 'no_password' has no password"):
        store.begin_attempt(KEY, "run-1")
    assert store.state(KEY)["attempts"] == 0


def test_a_recorded_outcome_settles_the_run_and_is_returned_to_its_later_tries(store):
    store.begin_attempt(KEY, "run-1")
    assert store.record_outcome(outcome("retry"), run_id="run-1", try_number=1, event_message="503")
    assert store.begin_attempt(KEY, "run-1") is None
    assert store.recorded_outcome(KEY, "run-1") == outcome("retry")
    assert store.state(KEY)["attempts"] == 1


def test_a_later_run_after_a_retry_outcome_makes_attempt_two(store):
    store.begin_attempt(KEY, "run-1")
    store.record_outcome(outcome("retry"), run_id="run-1", try_number=1, event_message="503")
    store.register(KEY, FIELDS)  # the later run registers the same customer again
    assert store.recorded_outcome(KEY, "run-2") is None
    assert store.begin_attempt(KEY, "run-2").number == 2


def test_an_onboarded_customer_is_never_attempted_again_by_any_run(store):
    store.begin_attempt(KEY, "run-1")
    store.record_outcome(outcome("onboarded"), run_id="run-1", try_number=1, event_message="status 1")
    store.register(KEY, FIELDS)
    assert store.begin_attempt(KEY, "run-2") is None
    recorded = store.recorded_outcome(KEY, "run-2")
    assert (recorded.status, recorded.attempt) == ("onboarded", 1)
    assert recorded.reason == "already onboarded by run run-1; not sent again (it was onboarded)"
    assert store.state(KEY)["attempts"] == 1


def test_release_undoes_the_attempt_and_a_stop_message_stops_only_its_run(store):
    store.begin_attempt(KEY, "run-1")
    back_to = store.release(
        KEY, "run-1", reason="bad client secret", undo_attempt=True, try_number=1, stop_message="AuthError: x"
    )
    assert back_to == "pending"
    assert (store.state(KEY)["attempts"], store.state(KEY)["status"]) == (0, "pending")
    with pytest.raises(RunStopped, match="AuthError: x"):
        store.begin_attempt(KEY, "run-1")
    assert store.begin_attempt(KEY, "run-2").number == 1


def test_a_run_that_lost_its_hold_does_not_overwrite_the_newer_run(store):
    store.begin_attempt(KEY, "run-1")
    store.begin_attempt(KEY, "run-2")  # run-1 hung; a later run took the customer over
    assert not store.record_outcome(outcome("retry"), run_id="run-1", try_number=1, event_message="late")
    state = store.state(KEY)
    assert (state["holder"], state["status"], state["outcome"]) == ("run-2", "sending", None)
    assert "not recorded: run run-2 holds the customer" in state["events"][-1]


def test_the_variable_keeps_only_the_last_twenty_events(store):
    for _ in range(30):
        store.register(KEY, FIELDS)
    assert len(store.state(KEY)["events"]) == 20
