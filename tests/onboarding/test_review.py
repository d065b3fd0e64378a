"""The review queue's logic, in-process, on a real warehouse: corrections are validated like a run's,
every answer is an event with its user, nothing is re-queued that the rules refuse, row data is
never a template, and the form never holds a password.

The HITL task itself runs in-process too: Airflow's supervisor channel is replaced by a recorder
(what ``upsert_hitl_detail`` would send to the API server), and the person's answer is the event
Airflow hands ``execute_complete``. The real UI path is the browser test's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from include.onboarding.review import CORRECT, EDITABLE, LEAVE, RETRY, fingerprint, form_params
from include.onboarding.review_decision import apply_review
from include.onboarding.review_store import ReviewWarehouse
from tests.support.rows import make_customer, run_sql

pytestmark = pytest.mark.integration
# PostgreSQL only where a statement of the review runs differently there (the re-queue's UPDATE).
SQLITE = pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)

USER = {"id": "7", "name": "oncall-ana"}
TEMPLATE = "{{ 6*7 }}"


@pytest.fixture
def store(warehouse):
    return ReviewWarehouse("customer_warehouse", warehouse.configured_table)


def add(store, key: str, status: str, reason: str, *, attempts: int = 0, **changes: Any) -> dict:
    store.add_customers([make_customer(key, **changes)])
    run_sql(
        store,
        f"UPDATE {store.table} SET status = :status, status_reason = :reason, attempts = :attempts, "
        "claimed_by = 'manual__1' WHERE customer_key = :key",
        {"status": status, "reason": reason, "attempts": attempts, "key": key},
    )
    return store.rows([key])[0]


def events(store, key: str) -> list[tuple[str, str, str]]:
    return run_sql(
        store,
        f"SELECT outcome, run_id, message FROM {store.events_table} WHERE customer_key = :key ORDER BY event_id",
        {"key": key},
    )


def answer(
    store, row: dict, choice: str, answers: dict | None = None, *, shown: str | None = None, user=USER
):
    return apply_review(
        store,
        row["customer_key"],
        choice=choice,
        answers=answers or {},
        user=user,
        shown=fingerprint(row) if shown is None else shown,
        run_id="review__1",
        try_number=1,
        data_center_family="commercial",
    )


def test_corrected_fields_that_pass_validation_requeue_the_row_with_an_event(store):
    row = add(
        store,
        "BAD-1",
        "invalid",
        "country_code is not one of ...",
        country_code="us",
        organization_name=TEMPLATE,
    )

    outcome = answer(store, row, CORRECT, {**form_values(row), "country_code": "US"})

    assert outcome.requeued and outcome.changed == ["country_code"], outcome
    after = store.rows(["BAD-1"])[0]
    assert (after["status"], after["country_code"], after["organization_name"]) == ("pending", "US", TEMPLATE)
    assert "re-queued by oncall-ana (id 7)" in after["status_reason"]
    [(outcome_name, run_id, message)] = events(store, "BAD-1")
    assert (outcome_name, run_id) == ("review_corrected", "review__1")
    assert message == (
        "Retry with corrected fields by oncall-ana (id 7): re-queued as pending from invalid; "
        "fields changed: country_code"
    )


@SQLITE
def test_a_correction_the_rules_refuse_changes_nothing_and_says_which_rule(store):
    row = add(store, "BAD-2", "invalid", "country_code ...", country_code="us")

    outcome = answer(store, row, CORRECT, {**form_values(row), "country_code": "XX", "telephone_number": "x"})

    assert not outcome.requeued
    assert any(p.startswith("country_code is not one of the") for p in outcome.problems), outcome.problems
    assert any("telephone_number" in p for p in outcome.problems), outcome.problems
    after = store.rows(["BAD-2"])[0]
    assert (after["status"], after["country_code"], after["telephone_number"]) == ("invalid", "us", None)
    [(outcome_name, _, message)] = events(store, "BAD-2")
    assert outcome_name == "review_refused"
    assert message.startswith("Retry with corrected fields by oncall-ana (id 7): not re-queued, it breaks: ")
    assert message.endswith("; fields changed: country_code, telephone_number")
    assert "XX" not in message  # names of fields and rules, never the values typed


@SQLITE
def test_retry_as_is_of_a_row_that_still_breaks_a_rule_is_refused(store):
    row = add(store, "BAD-3", "invalid", "password is missing or blank", password=None)

    outcome = answer(store, row, RETRY)

    assert not outcome.requeued and outcome.problems == ["password is missing or blank"]
    assert store.rows(["BAD-3"])[0]["status"] == "invalid"


def test_retry_as_is_of_a_failed_row_starts_its_attempts_again(store):
    row = add(store, "FAIL-1", "failed", "still failing after 5 attempts", attempts=5)

    outcome = answer(store, row, RETRY)

    assert outcome.requeued and outcome.changed == []
    after = store.rows(["FAIL-1"])[0]
    assert (after["status"], after["attempts"]) == ("pending", 0)
    [(name, _, message)] = events(store, "FAIL-1")
    assert name == "review_retry" and message.endswith("no field changed; attempts reset to 0")


@SQLITE
def test_retry_of_a_conflict_keeps_its_attempts(store):
    row = add(store, "CONF-1", "conflict", "the account exists under another partner", attempts=1)

    assert answer(store, row, RETRY).requeued
    assert store.rows(["CONF-1"])[0]["attempts"] == 1


@SQLITE
def test_leave_it_changes_nothing_and_records_who_chose_it(store):
    row = add(store, "REJ-1", "rejected", "AvePoint refused the customer")

    outcome = answer(store, row, LEAVE, {**form_values(row), "first_name": "Changed"})

    assert not outcome.requeued and outcome.label == "left as it is"
    assert store.rows(["REJ-1"])[0] == row
    assert events(store, "REJ-1") == [
        ("review_left", "review__1", "Leave it by oncall-ana (id 7): the row stays rejected")
    ]


@SQLITE
def test_no_answer_in_time_leaves_the_row_and_says_nobody_answered(store):
    row = add(store, "REJ-2", "rejected", "AvePoint refused the customer")

    answer(store, row, LEAVE, user=None)

    [(_, _, message)] = events(store, "REJ-2")
    assert message == "Leave it by nobody (no answer in time: the default applied): the row stays rejected"


def test_a_row_changed_in_the_warehouse_after_the_form_was_made_is_not_overwritten(store):
    row = add(store, "BAD-4", "invalid", "country_code ...", country_code="us")
    shown = fingerprint(row)
    run_sql(store, f"UPDATE {store.table} SET country_code = 'GB' WHERE customer_key = 'BAD-4'")

    outcome = answer(store, row, CORRECT, {**form_values(row), "country_code": "US"}, shown=shown)

    assert not outcome.requeued and "changed in the warehouse" in outcome.message
    assert store.rows(["BAD-4"])[0]["country_code"] == "GB"


@SQLITE
def test_a_row_no_longer_needing_a_human_is_never_requeued(store):
    add(store, "DONE-1", "conflict", "exists elsewhere")
    run_sql(
        store, f"UPDATE {store.table} SET status = 'onboarded', password = NULL WHERE customer_key = 'DONE-1'"
    )
    done = store.rows(["DONE-1"])[0]

    outcome = answer(store, done, RETRY)

    assert not outcome.requeued and "onboarded now" in outcome.message
    assert store.rows(["DONE-1"])[0]["status"] == "onboarded"


@SQLITE
def test_the_form_holds_every_editable_field_as_data_and_never_the_password(store):
    row = add(
        store, "BAD-5", "invalid", "…", organization_name=TEMPLATE, tags='["vip"]', management_mode=True
    )

    params = form_params(row)

    assert list(params) == list(EDITABLE)
    assert "password" not in params and "customer_key" not in params
    assert params["organization_name"].value == TEMPLATE
    assert (params["tags"].value, params["management_mode"].value) == ('["vip"]', True)
    assert row["customer_key"] and all(TEMPLATE not in str(p.description or "") for p in params.values())


def form_values(row: dict) -> dict:
    """What the form sends back untouched: its own values."""
    return {name: param.value for name, param in form_params(row).items()}


# -- the HITL task, in-process ---------------------------------------------------------------------


@dataclass
class TaskInstance:
    id: str = "0199d0f0-0000-7000-8000-000000000001"
    task_id: str = "review_customer"
    map_index: int = 0
    try_number: int = 1
    xcom: dict = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, task_ids: str, key: str, map_indexes: int) -> Any:
        assert (task_ids, map_indexes) == (self.task_id, self.map_index)
        return self.xcom.get(key)


def test_the_review_task_asks_with_row_data_as_text_and_applies_the_answer(store, monkeypatch, sandbox):
    from airflow.sdk.exceptions import TaskAwaitingInput

    from include.onboarding import review_operator
    from include.onboarding.review_operator import CustomerReviewOperator
    from include.onboarding.summary import md

    add(store, "BAD-6", "invalid", "country_code is not ... {{ conn.avepoint_default.password }}",
              country_code="us", organization_name=TEMPLATE)  # fmt: skip
    asked: list[dict] = []
    monkeypatch.setattr(
        "airflow.providers.standard.operators.hitl.upsert_hitl_detail", lambda **kw: asked.append(kw)
    )
    operator = CustomerReviewOperator(
        task_id="review_customer", customer_key="BAD-6", customer_label="BAD-6 · x"
    )
    assert operator.template_fields == ()
    ti = TaskInstance()
    context = {"ti": ti, "task_instance": ti, "run_id": "review__2", "params": {}}

    with pytest.raises(TaskAwaitingInput):
        operator.execute(context)

    [request] = asked
    assert request["subject"] == f"BAD-6 · {TEMPLATE} — invalid"
    # Markdown-escaped text (the UI renders the body as Markdown), never rendered as Jinja.
    assert md(TEMPLATE) in request["body"] and "42" not in request["body"]
    assert md("{{ conn.avepoint_default.password }}") in request["body"]
    assert set(request["params"]) == set(EDITABLE)
    assert request["params"]["organization_name"]["value"] == TEMPLATE
    assert "Secret-BAD-6" not in repr(request)  # the row's password
    assert (request["options"], request["defaults"]) == ([RETRY, CORRECT, LEAVE], [LEAVE])
    assert operator.review_label == "BAD-6 · x — invalid, waiting for a person"

    # The answer comes back to a fresh operator (a new task process), as Airflow resumes it.
    resumed = CustomerReviewOperator(
        task_id="review_customer", customer_key="BAD-6", customer_label="BAD-6 · x"
    )
    params_input = {k: v["value"] for k, v in request["params"].items()} | {"country_code": "US"}
    event = {
        "chosen_options": [CORRECT],
        "params_input": params_input,
        "responded_at": datetime.now(UTC),
        "responded_by_user": USER,
    }
    result = resumed.execute_complete(context, event)

    assert result == {
        "customer_key": "BAD-6",
        "choice": CORRECT,
        "outcome": "review_corrected",
        "requeued": True,
        "changed": ["country_code"],
        "problems": [],
    }
    assert resumed.review_label == "BAD-6 · x — re-queued with corrections"
    after = store.rows(["BAD-6"])[0]
    assert (after["status"], after["organization_name"]) == ("pending", TEMPLATE)
    assert review_operator.SHOWN_XCOM_KEY in ti.xcom and len(ti.xcom[review_operator.SHOWN_XCOM_KEY]) == 64


# -- the queue: which rows a review run offers ------------------------------------------------------


@dataclass
class AssetEvent:
    extra: dict


@dataclass
class OutletEvent:
    extra: dict = field(default_factory=dict)


@SQLITE
def test_an_onboarding_run_asks_for_a_review_only_when_it_left_rows_needing_a_human(store):
    from airflow.sdk.exceptions import AirflowSkipException

    from include.onboarding.review import REVIEW_ASSET, request_review

    add(store, "BAD-7", "invalid", "…")  # claimed by manual__1
    add(store, "OK-7", "onboarded", "created")
    outlet = OutletEvent()

    result = request_review(
        {"params": {"dry_run": False}, "run_id": "manual__1", "outlet_events": {REVIEW_ASSET: outlet}}
    )

    assert result == outlet.extra == {"run_id": "manual__1", "counts": {"invalid": 1}}
    for params, run_id in (({"dry_run": False}, "manual__2"), ({"dry_run": True}, "manual__1")):
        with pytest.raises(AirflowSkipException):  # a skipped task records no Asset event
            request_review(
                {"params": params, "run_id": run_id, "outlet_events": {REVIEW_ASSET: OutletEvent()}}
            )


@SQLITE
def test_a_review_run_offers_the_rows_its_onboarding_runs_left_or_on_demand_every_such_row(store):
    from include.onboarding.review import REVIEW_ASSET, rows_to_review

    add(store, "BAD-8", "invalid", "…", organization_name=TEMPLATE)
    add(store, "CONF-8", "conflict", "…")
    add(store, "DONE-8", "onboarded", "…")
    store.add_customers([make_customer("WAIT-8")])
    run_sql(store, f"UPDATE {store.table} SET claimed_by = 'manual__9' WHERE customer_key = 'CONF-8'")
    params = {"customer_keys": [], "max_rows": 25}

    by_asset = rows_to_review(
        {"params": params, "triggering_asset_events": {REVIEW_ASSET: [AssetEvent({"run_id": "manual__1"})]}}
    )
    on_demand = rows_to_review({"params": params, "triggering_asset_events": {}})
    one = rows_to_review({"params": params | {"customer_keys": ["CONF-8", "WAIT-8"]}})
    capped = rows_to_review({"params": params | {"max_rows": 1}})

    assert by_asset == [{"customer_key": "BAD-8", "customer_label": f"BAD-8 · {TEMPLATE}"}]
    assert [r["customer_key"] for r in on_demand] == ["BAD-8", "CONF-8"]
    assert [r["customer_key"] for r in one] == ["CONF-8"]
    assert [r["customer_key"] for r in capped] == ["BAD-8"]
