"""AvePointOnboardCustomerOperator against the sandbox, through a small in-memory store.

The store here is a real implementation of the provider's ``OnboardingStore`` holding dicts, so
these tests pin the operator's side of the protocol without any table: write-ahead counting, the
look-up before a second attempt, recorded outcomes, stopped runs, configuration errors, and no
password anywhere the operator writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from avepoint_provider.customer import Customer
from avepoint_provider.operators.onboard import AvePointOnboardCustomerOperator
from avepoint_provider.outcomes import Attempt, OnboardOutcome
from avepoint_provider.store import OnboardingStore, RunStopped, UnknownCustomer
from tests.support.reference import EAST_US

pytestmark = pytest.mark.integration

RUN = "manual__run-1"
KEY = "C1"
ACCOUNT = "ann@contoso.example"
PASSWORD = "Op-Memory-Secret-Pw-7!"


class MemoryStore(OnboardingStore):
    """Customers, attempts and outcomes in dicts; ``calls`` notes each call with the POSTs seen so far."""

    def __init__(self, customers: dict[str, Customer], posts: Callable[[], int]) -> None:
        self.customers = customers
        self.posts = posts
        self.attempts = dict.fromkeys(customers, 0)
        self.outcomes: dict[tuple[str, str], OnboardOutcome] = {}
        self.stops: dict[str, str] = {}
        self.released: list[dict[str, Any]] = []
        self.calls: list[tuple[str, int, int]] = []

    def begin_attempt(self, key: str, run_id: str) -> Attempt | None:
        if run_id in self.stops:
            raise RunStopped(self.stops[run_id])
        if key not in self.customers:
            raise UnknownCustomer(f"no customer {key!r}")
        if (key, run_id) in self.outcomes:
            return None
        self.attempts[key] += 1
        self.calls.append(("begin_attempt", self.attempts[key], self.posts()))
        return Attempt(self.attempts[key], self.customers[key])

    def record_outcome(
        self, outcome: OnboardOutcome, *, run_id: str, try_number: int | None, event_message: str
    ) -> bool:
        self.calls.append(("record_outcome", self.attempts[outcome.customer_key], self.posts()))
        self.outcomes[(outcome.customer_key, run_id)] = outcome
        return True

    def recorded_outcome(self, key: str, run_id: str) -> OnboardOutcome | None:
        return self.outcomes.get((key, run_id))

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
        if undo_attempt:
            self.attempts[key] -= 1
        if stop_message:
            self.stops[run_id] = stop_message
        self.released.append(
            {"key": key, "run_id": run_id, "undo_attempt": undo_attempt, "stop_message": stop_message}
        )
        return "pending"


@pytest.fixture
def store(sandbox) -> MemoryStore:
    customer = Customer(
        first_name="Ann",
        last_name="Lee",
        organization_name="Contoso",
        registration_account=ACCOUNT,
        country_code="US",
        data_center=EAST_US,
        password=PASSWORD,
        tags=("vip",),
    )
    return MemoryStore({KEY: customer}, posts=lambda: sandbox.inspect()["posts_per_account"].get(ACCOUNT, 0))


def operator(store: OnboardingStore, **kwargs: Any) -> AvePointOnboardCustomerOperator:
    return AvePointOnboardCustomerOperator(
        task_id="onboard", customer_key=KEY, store=store, customer_label="C1 · Contoso", **kwargs
    )


class TaskInstance(SimpleNamespace):
    """The task instance's part the operator uses: its try number and the XCom it pushes."""

    def __init__(self, try_number: int = 1) -> None:
        super().__init__(try_number=try_number, pushed={})

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def execute(store: OnboardingStore, *, run_id: str = RUN, try_number: int = 1) -> dict[str, Any]:
    return operator(store).execute({"run_id": run_id, "ti": TaskInstance(try_number)})


def test_status_1_is_onboarded_with_the_new_id(sandbox, store):
    result = execute(store)
    created = sandbox.inspect()["customers"]
    assert len(created) == 1
    assert (result["outcome"], result["status"], result["api_status"], result["attempt"]) == (
        "onboarded",
        "onboarded",
        1,
        1,
    )
    assert result["avepoint_customer_id"] == created[0]["id"]
    assert store.outcomes[(KEY, RUN)].to_dict() == result


def test_the_attempt_is_counted_before_the_post_and_the_outcome_recorded_after_it(sandbox, store):
    execute(store)
    # (call, attempts counted, POSTs the sandbox had seen at that moment)
    assert store.calls == [("begin_attempt", 1, 0), ("record_outcome", 1, 1)]


def test_a_second_attempt_looks_the_account_up_before_sending(sandbox, store):
    # Attempt 1: the POST creates the customer but its answer is lost, and AvePoint stays
    # unreachable for the rest of the attempt (POSTs and look-ups), so it ends in "retry".
    sandbox.script(ACCOUNT, [{"lost": "drop"}])
    sandbox.set_faults(error_rate_503=1.0, apply_to=["onboard", "list"])
    first = execute(store)
    assert first["outcome"] == "retry"
    assert sandbox.inspect()["creations_per_account"] == {ACCOUNT: 1}
    posts_after_first = sandbox.inspect()["posts_per_account"][ACCOUNT]

    # Attempt 2 (a later run), AvePoint back: the account is found by look-up, nothing is POSTed.
    sandbox.clear_faults()
    second = execute(store, run_id="manual__run-2")
    assert (second["outcome"], second["attempt"]) == ("onboarded", 2)
    assert "not sent again" in second["reason"]
    assert second["avepoint_customer_id"] == sandbox.inspect()["customers"][0]["id"]
    assert sandbox.inspect()["posts_per_account"][ACCOUNT] == posts_after_first
    assert sandbox.inspect()["creations_per_account"] == {ACCOUNT: 1}


def test_an_earlier_try_s_recorded_outcome_is_returned_without_a_post(sandbox, store):
    first = execute(store)
    again = execute(store, try_number=2)
    assert again == first
    assert store.attempts[KEY] == 1
    assert sandbox.inspect()["posts_per_account"] == {ACCOUNT: 1}


def test_a_stopped_run_skips_the_customer_without_a_post(sandbox, store):
    store.stops[RUN] = "AvePointAuthError: the client was refused"
    with pytest.raises(AirflowSkipException, match="the run stopped earlier"):
        execute(store)
    assert sandbox.inspect()["posts_per_account"] == {}
    assert store.attempts[KEY] == 0
    assert store.released == [{"key": KEY, "run_id": RUN, "undo_attempt": False, "stop_message": None}]


def test_a_configuration_error_fails_without_retry_and_gives_the_customer_back(sandbox, store):
    sandbox.revoke(disable_client=True)
    with pytest.raises(AirflowFailException, match="Fix the 'avepoint_default' connection"):
        execute(store)
    assert sandbox.inspect()["posts_per_account"] == {}
    assert store.attempts[KEY] == 0
    [released] = store.released
    assert (released["key"], released["run_id"], released["undo_attempt"]) == (KEY, RUN, True)
    assert released["stop_message"].startswith("AvePointAuthError: ")
    # The run's next customer is not sent at all.
    with pytest.raises(AirflowSkipException):
        execute(store, try_number=1)


def test_the_password_appears_in_no_result_rendered_field_or_log(sandbox, store, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    task = operator(store)
    context = {"run_id": RUN, "ti": TaskInstance(), "params": {}}
    task.render_template_fields(context)
    result = task.execute(context)

    assert result["outcome"] == "onboarded"
    captured = capsys.readouterr()
    logs = caplog.text + captured.out + captured.err
    # The operator's own log lines were captured, so their absence of the password means something.
    assert f"Outcome for customer {KEY}: onboarded" in logs
    for where, text in {"result": json.dumps(result), "label": task.label, "logs": logs}.items():
        assert PASSWORD not in text, f"the password is in the {where}"


# -- data is never a template; the label carries the outcome -----------------------------------------

TEMPLATED_KEY = "K{{ 6*7 }}"
TEMPLATED_LABEL = "{{ conn.avepoint_default.password }} {% if true %}x{% endif %} {# note #}"


def test_no_argument_is_rendered_as_a_template(sandbox, store):
    """Key and label are data (mapped from warehouse rows through XCom): Airflow must not render them."""
    store.customers[TEMPLATED_KEY] = store.customers.pop(KEY)
    store.attempts = {TEMPLATED_KEY: 0}
    task = AvePointOnboardCustomerOperator(
        task_id="onboard", customer_key=TEMPLATED_KEY, store=store, customer_label=TEMPLATED_LABEL
    )
    assert task.template_fields == ()
    context = {"run_id": RUN, "ti": TaskInstance(), "params": {}}
    task.render_template_fields(context)
    assert (task.customer_key, task.customer_label) == (TEMPLATED_KEY, TEMPLATED_LABEL)

    result = task.execute(context)

    assert result["customer_key"] == TEMPLATED_KEY and result["status"] == "onboarded"
    assert task.label == f"{TEMPLATED_LABEL} — onboarded"
    assert store.attempts == {TEMPLATED_KEY: 1}


def test_a_key_from_an_upstream_task_is_resolved_not_rendered(sandbox, store):
    from airflow.sdk import DAG, task

    store.customers[TEMPLATED_KEY] = store.customers.pop(KEY)
    store.attempts = {TEMPLATED_KEY: 0}
    with DAG("xcom_key", schedule=None):
        key = task(lambda: TEMPLATED_KEY, task_id="register")()
        onboard = AvePointOnboardCustomerOperator(task_id="onboard", customer_key=key, store=store)
    assert onboard.upstream_task_ids == {"register"}
    ti = TaskInstance()
    ti.xcom_pull = lambda **kwargs: TEMPLATED_KEY if kwargs.get("task_ids") == "register" else None

    result = onboard.execute({"run_id": RUN, "ti": ti, "params": {}})

    assert result["customer_key"] == TEMPLATED_KEY
    assert onboard.label == f"{TEMPLATED_KEY} — onboarded"


def test_a_customer_needing_a_human_fails_the_task_after_recording_its_outcome(sandbox, store):
    from avepoint_provider.operators.onboard import CustomerNeedsHuman

    sandbox.seed(other_partner_accounts=[ACCOUNT])
    task = operator(store)
    ti = TaskInstance()
    assert task.label == "C1 · Contoso"

    with pytest.raises(CustomerNeedsHuman, match="Customer C1 needs a human: conflict") as raised:
        task.execute({"run_id": RUN, "ti": ti})

    assert isinstance(raised.value, AirflowFailException)  # failed, never retried
    assert raised.value.outcome["status"] == "conflict"
    assert store.outcomes[(KEY, RUN)].to_dict() == raised.value.outcome == ti.pushed["return_value"]
    assert task.label == "C1 · Contoso — conflict"

    # A pipeline that prefers green tasks for these gets the result back instead.
    store.outcomes.clear()
    quiet = operator(store, fail_when_needs_human=False)
    assert quiet.execute({"run_id": RUN, "ti": TaskInstance()})["status"] == "conflict"
    assert quiet.label == "C1 · Contoso — conflict"


def test_a_task_that_stops_early_says_so_in_its_label(sandbox, store):
    store.stops[RUN] = "AvePointAuthError: the client was refused"
    task = operator(store)
    with pytest.raises(AirflowSkipException):
        task.execute({"run_id": RUN, "ti": TaskInstance()})
    assert task.label == "C1 · Contoso — not sent"

    store.stops.clear()
    store.customers.clear()
    broken = operator(store)
    with pytest.raises(AirflowFailException, match="no customer 'C1'"):
        broken.execute({"run_id": RUN, "ti": TaskInstance()})
    assert broken.label == "C1 · Contoso — error"
