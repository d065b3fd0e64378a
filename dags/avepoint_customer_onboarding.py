"""
### Onboard warehouse customers to AvePoint Elements

Every hour this DAG takes the customers waiting in the warehouse table
`customer_onboarding` (connection `customer_warehouse`), validates them with
Great Expectations, onboards each valid one through the AvePoint Graph API
(connection `avepoint_default`, pool `avepoint_api`) as its own mapped task, and
writes every outcome back to the table and to `customer_onboarding_events`.
The run's summary lands in the `finish_run` log and in the run's note.

**Tasks:** `prepare_table` (checks the table; creates it when missing) → `claim_customers` → `validate_customers` → `onboard_customer` (one per
customer, labelled *key · organization — outcome* once it has run; a customer needing a human,
`rejected`, `conflict`, `failed` or `invalid`, ends its task *failed* while the run stays green) →
`finish_run` (always runs; fails the run when an onboarding task ended without recording an
outcome; sends the run's alert, see the README) and, beside it, `announce_customers` (an event on the Asset `avepoint://elements/customers`
when the run onboarded anyone, skipped otherwise). After `finish_run`: `request_review` (an event on
`avepoint://elements/customers/needing-review`, which starts the review DAG, when the run left rows
needing a human) and `start_next_run` (with `drain` only).

#### Params (Trigger → Run Parameters)
| param | meaning |
| --- | --- |
| `dry_run` | validate and report what would be sent; no API call, no claim, no status change |
| `max_customers` | at most this many customers in this run (1–1000, default 500) |
| `customer_keys` | only these `customer_key` values (one per line; empty: every waiting row), still subject to the status rules |
| `drain` | when customers are still waiting after this run, start the next run with the same params (queued: never two at once); stops after a run that failed or onboarded nobody |

A run takes rows in `pending` or `retry` (or `in_progress` claimed more than the
claim timeout ago) requested before the end of its data interval, oldest first.

#### Status lifecycle
A row needing a human is offered in **Browse → Required Actions** by the DAG
`avepoint_customer_review`: *retry as is*, *retry with corrected fields* (checked
against the same rules) or *leave it*. SQL on the table works too.

| status | meaning | what a human does |
| --- | --- | --- |
| `pending` | waiting for a run | nothing |
| `in_progress` | held by run `claimed_by` | nothing; a stale claim is taken back after the claim timeout |
| `onboarded` | created in AvePoint (or already ours); `avepoint_customer_id` set, password erased | nothing |
| `invalid` | broke validation rules, listed in `status_reason`; never sent | review it: correct the fields and retry (or fix the data and set `status = 'pending'`) |
| `rejected` | AvePoint refused it (HTTP 400, status 3 or 6) | read the reason, then review it: retry with corrected fields, or leave it |
| `conflict` | the account exists under another partner (status 7) | ask the customer which partner manages them; once released there, review it: retry as is; else leave it |
| `retry` | transient failure; a later run tries again | nothing, unless it repeats |
| `failed` | still failing after the maximum attempts | check AvePoint and the events table, then review it: retry as is (attempts start again at 0) |

A 401/403 from AvePoint (wrong secret, revoked app, missing scope) fails the run
and returns the rows it held to their previous status.

After an outage, start a backfill over the missed window (Trigger → Backfill,
or `airflow backfill create`): each interval's run drains the rows requested
before its end, exactly once.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, Param, TriggerRule, dag, task

from avepoint_provider.operators.onboard import AvePointOnboardCustomerOperator
from include.onboarding.assets import CUSTOMERS_ASSET
from include.onboarding.names import (
    CLAIM_TASK_ID,
    DEFAULT_ARGS,
    POOL,
    PREPARE_TASK_ID,
    REVIEW_ASSET_URI,
    VALIDATE_TASK_ID,
)
from include.onboarding.store import WarehouseStore


def _alert_on_failure(context) -> None:
    """finish_run failed for good (its warehouse unreachable, say): alert anyway (the README, Alerts)."""
    from include.onboarding.alerts import alert_after_failure

    alert_after_failure(context)


@dag(
    dag_id="avepoint_customer_onboarding",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["avepoint", "onboarding", "customers"],
    default_args=DEFAULT_ARGS,
    params={
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Validate and report what would be sent (without passwords). "
            "No API call, no claim, no status change.",
        ),
        "max_customers": Param(
            500,
            type="integer",
            minimum=1,
            maximum=1000,
            title="Max customers",
            description="Take at most this many customers in this run: a whole number from 1 to 1000 "
            "(Airflow maps at most 1024 tasks). Customers beyond it wait for the next run.",
        ),
        "customer_keys": Param(
            [],
            type=["array", "null"],
            items={"type": "string"},
            title="Customer keys",
            description="Only these customer_key values, one per line; leave it empty for every waiting row. "
            "Rows must still be pending, retry or a stale in_progress.",
        ),
        "drain": Param(
            False,
            type="boolean",
            title="Drain the backlog",
            description="When this run onboarded customers and more are waiting, start the next run "
            "(with these params) as soon as this one ends, and so on until none is waiting. Never two "
            "runs at once; stops after a run that failed or onboarded nobody.",
        ),
    },
)
def avepoint_customer_onboarding():
    # The steps' logic is imported when a task runs: parsing this file stays cheap.
    @task(task_id=PREPARE_TASK_ID)
    def prepare_table(**context) -> None:
        from include.onboarding import pipeline

        pipeline.prepare_table(context)

    @task(task_id=CLAIM_TASK_ID, multiple_outputs=False)
    def claim_customers(**context) -> dict:
        from include.onboarding import pipeline

        return pipeline.claim_customers(context)

    @task(task_id=VALIDATE_TASK_ID)
    def validate_customers(claim: dict, **context) -> list[dict]:
        from include.onboarding import pipeline

        return pipeline.validate_customers(claim, context)

    @task(trigger_rule=TriggerRule.ALL_DONE, multiple_outputs=False, on_failure_callback=_alert_on_failure)
    def finish_run(**context) -> dict:
        from include.onboarding import pipeline

        return pipeline.finish_run(context)

    # The Asset event for downstream DAGs: skipped (no event) when nobody was onboarded.
    @task(trigger_rule=TriggerRule.ALL_DONE, outlets=[CUSTOMERS_ASSET], multiple_outputs=False)
    def announce_customers(**context) -> dict:
        from include.onboarding.assets import announce

        return announce(context)

    # With `drain`: the next run, queued until this one ends, while customers are still waiting.
    @task
    def start_next_run(**context) -> None:
        from include.onboarding import drain

        drain.start_next_run(context)

    # Rows needing a human: an event that starts the review DAG (skipped, no event, otherwise).
    @task(trigger_rule=TriggerRule.ALL_DONE, outlets=[Asset(REVIEW_ASSET_URI)], multiple_outputs=False)
    def request_review(**context) -> dict:
        from include.onboarding import review

        return review.request_review(context)

    claimed = claim_customers()
    prepare_table() >> claimed
    validated = validate_customers(claimed)
    onboarded = AvePointOnboardCustomerOperator.partial(
        task_id="onboard_customer",
        store=WarehouseStore(),
        pool=POOL,
        map_index_template="{{ task.label }}",
    ).expand_kwargs(validated)
    finished = finish_run()
    onboarded >> [finished, announce_customers()]
    finished >> [start_next_run(), request_review()]


avepoint_customer_onboarding()
