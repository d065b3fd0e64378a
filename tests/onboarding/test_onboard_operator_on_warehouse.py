"""The provider's operator on this project's warehouse store, against the sandbox: every API answer
maps to the contract's status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from avepoint_provider.operators.onboard import (
    NEEDS_HUMAN,
    AvePointOnboardCustomerOperator,
    CustomerNeedsHuman,
)
from include.onboarding.store import WarehouseStore
from tests.support.rows import run_sql
from tools.demo.customers import EAST_US

pytestmark = pytest.mark.integration

RUN = "manual__run-1"
ACCOUNT = "ann@contoso.example"


@pytest.fixture
def held(warehouse):
    """One customer row claimed by RUN."""
    warehouse.add_customers(
        [
            {
                "customer_key": "C1",
                "first_name": "Ann",
                "last_name": "Lee",
                "organization_name": "Contoso",
                "registration_account": ACCOUNT,
                "country_code": "US",
                "data_center": EAST_US,
                "password": "Op-Secret-Pw-1!",
                "tags": ["vip"],
            }
        ]
    )
    warehouse.claim(
        run_id=RUN,
        interval_end=datetime.now(UTC) + timedelta(hours=1),
        limit=10,
        claim_timeout=timedelta(hours=1),
    )
    return warehouse


def execute(max_attempts: int = 5, try_number: int = 1, run_id: str = RUN) -> dict:
    """The task's result; for a customer needing a human, the one its failure carries (and its XCom)."""
    operator = AvePointOnboardCustomerOperator(
        task_id="onboard",
        customer_key="C1",
        store=WarehouseStore(table="customer_onboarding"),
        max_attempts=max_attempts,
    )
    pushed: dict = {}
    ti = SimpleNamespace(try_number=try_number, xcom_push=lambda key, value: pushed.update({key: value}))
    try:
        result = operator.execute({"run_id": run_id, "ti": ti})
    except CustomerNeedsHuman as needs_human:
        result = needs_human.outcome
        assert result["status"] in NEEDS_HUMAN and pushed == {"return_value": result}
    assert operator.label == f"C1 — {result['status']}"
    return result


@pytest.mark.parametrize(
    ("script", "outcome", "api_status", "reason"),
    [
        ([], "onboarded", 1, "AvePoint created the customer: status 1 (successful)"),
        ([{"status": 2}], "retry", 2, "could not onboard the customer this time: status 2 (failed)"),
        (
            [{"status": 3}],
            "rejected",
            3,
            "AvePoint refused the customer: status 3 (customer does not exist)",
        ),
        ([{"status": 4}], "retry", 4, "status 4 (failed to register customer)"),
        ([{"malformed": "status42"}], "retry", 42, "undocumented status 42"),
    ],
    ids=["status-1", "status-2", "status-3", "status-4", "status-42"],
)
def test_api_status_maps_to_outcome(sandbox, held, script, outcome, api_status, reason):
    if script:
        sandbox.script(ACCOUNT, script)
    result = execute()
    assert result["outcome"] == outcome
    assert reason in result["reason"]
    state = held.row_state("C1")
    assert state["status"] == outcome
    assert state["status_reason"] == result["reason"]
    assert result["api_status"] == state["api_status"] == api_status
    assert result["avepoint_customer_id"] == state["avepoint_customer_id"]


def test_status_5_is_onboarded_with_the_existing_id(sandbox, held):
    sandbox.seed(
        customers=[{"registrationAccount": ACCOUNT, "organizationName": "Contoso", "countryCode": "US"}]
    )
    existing = sandbox.inspect()["customers"][0]["id"]
    result = execute()
    assert (result["outcome"], result["api_status"], result["avepoint_customer_id"]) == (
        "onboarded",
        5,
        existing,
    )


def test_status_6_is_rejected(sandbox, held):
    _set_account(held, "partner@sandbox.example")
    result = execute()
    assert result["outcome"] == "rejected" and "status 6" in result["reason"]


def test_status_7_not_in_our_list_is_a_conflict(sandbox, held):
    sandbox.seed(other_partner_accounts=[ACCOUNT])
    result = execute()
    assert result["outcome"] == "conflict" and result["avepoint_customer_id"] is None
    assert "under another partner" in result["reason"]


def test_http_400_is_rejected_naming_the_field(sandbox, held):
    _set_account(held, "not-an-email")  # the API's own validation, should a bad row get past ours
    result = execute()
    assert result["outcome"] == "rejected" and result["http_status"] == 400
    assert "registrationAccount" in result["reason"]
    assert "not-an-email" not in result["reason"]


def test_transient_failures_become_retry_then_failed_at_max_attempts(sandbox, held):
    sandbox.set_faults(error_rate_503=1.0)
    first = execute(max_attempts=2)
    assert (first["outcome"], first["status"], first["http_status"]) == ("retry", "retry", 503)
    # The next run takes the row again; its second attempt is the last one.
    held.claim(run_id="run-2", interval_end=datetime.now(UTC) + timedelta(hours=1), limit=10,
               claim_timeout=timedelta(hours=1))  # fmt: skip
    second = execute(max_attempts=2, run_id="run-2")
    assert (second["outcome"], second["status"]) == ("retry", "failed")
    assert second["reason"].startswith("gave up after 2 attempts")
    assert sandbox.inspect()["creations_per_account"] == {}


def test_a_second_attempt_looks_the_customer_up_before_sending(sandbox, held):
    sandbox.script(ACCOUNT, [{"lost": "drop"}])
    sandbox.set_faults(error_rate_503=1.0)  # every later POST fails: only a lookup can settle it
    result = execute()
    assert result["outcome"] == "onboarded"
    assert "not sent again" in result["reason"]
    assert sandbox.inspect()["posts_per_account"] == {ACCOUNT: 1}


def test_an_earlier_try_that_recorded_its_outcome_is_not_sent_again(sandbox, held):
    first = execute()
    again = execute(try_number=2)
    assert again["status"] == first["status"] == "onboarded"
    assert sandbox.inspect()["posts_per_account"] == {ACCOUNT: 1}


def test_a_row_another_run_holds_is_skipped(sandbox, held):
    with pytest.raises(AirflowSkipException, match="not held by run other-run"):
        execute(run_id="other-run")
    assert sandbox.inspect()["requests"]["onboard"] == 0


def test_revoked_credentials_fail_the_task_and_return_the_row(sandbox, held):
    sandbox.revoke(disable_client=True)
    with pytest.raises(AirflowFailException, match="the customer went back to pending") as raised:
        execute()
    assert "sandbox-secret" not in str(raised.value)
    state = held.row_state("C1")
    assert (state["status"], state["attempts"]) == ("pending", 0)
    assert held.stop_reason(RUN).startswith("AvePointAuthError")


def test_after_a_configuration_error_the_run_sends_no_other_row(sandbox, held):
    sandbox.revoke(disable_client=True)
    with pytest.raises(AirflowFailException):
        execute()
    # The credentials are fixed, but this run stopped: its other tasks give their rows back unsent.
    sandbox.enable_client()
    held.claim(
        run_id=RUN,
        interval_end=datetime.now(UTC) + timedelta(hours=1),
        limit=10,
        claim_timeout=timedelta(hours=1),
    )
    assert held.row_state("C1")["claimed_by"] == RUN
    with pytest.raises(AirflowSkipException, match="not sent, the run stopped earlier"):
        execute()
    state = held.row_state("C1")
    assert (state["status"], state["attempts"]) == ("pending", 0)
    assert "stopped before sending it: AvePointAuthError" in state["status_reason"]
    assert sandbox.inspect()["requests"]["onboard"] == 0


def _set_account(store, account: str) -> None:
    run_sql(store, f"UPDATE {store.table} SET registration_account = :a", {"a": account})


def _recover(warehouse, run_id: str, max_attempts: int) -> dict:
    """finish_run's step for a row whose task ended without an outcome; returns the row's state."""
    warehouse.recover_unfinished(
        run_id, reason="its task ended without an outcome", max_attempts=max_attempts
    )
    return warehouse.row_state("C1")


def test_a_task_that_fails_before_counting_its_attempt_still_uses_one(sandbox, held):
    """Run after run the task dies before begin_attempt (a broken row, a lost store): the row must
    reach max_attempts and fail, not go back to retry with nothing counted, forever."""
    state = _recover(held, RUN, max_attempts=2)
    assert (state["status"], state["attempts"]) == ("retry", 1)

    held.claim(run_id="run-2", interval_end=datetime.now(UTC) + timedelta(hours=1), limit=10,
               claim_timeout=timedelta(hours=1))  # fmt: skip
    state = _recover(held, "run-2", max_attempts=2)
    assert (state["status"], state["attempts"]) == ("failed", 2)
    assert sandbox.inspect()["requests"]["onboard"] == 0


def test_a_task_that_fails_after_counting_its_attempt_is_not_counted_twice(sandbox, held):
    assert held.begin_attempt("C1", RUN)["attempts"] == 1  # then the worker dies mid-call
    state = _recover(held, RUN, max_attempts=2)
    assert (state["status"], state["attempts"]) == ("retry", 1)
