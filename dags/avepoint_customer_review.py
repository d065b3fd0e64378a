"""
### Review customers needing a human

Offers each customer row in `invalid`, `rejected`, `conflict` or `failed` to a person, in the
Airflow UI (**Browse → Required Actions**, or the task's *Required Action* tab), one mapped
`review_customer` task per row. Each shows the key, organization, status and reason, and a form
with the row's current values (never the password). The choices:

| choice | what happens |
| --- | --- |
| *Retry as is* | the row goes back to `pending` unchanged (a `failed` row with `attempts = 0`) |
| *Retry with corrected fields* | the same, with the fields you changed in the form |
| *Leave it* | nothing changes; also what happens after 3 days without an answer |

A retry is checked against every validation rule of the onboarding DAG first: a row that breaks
one is not re-queued (the rule is in the task's log; the grid label says *not re-queued*). The
choice, the fields changed and who answered go to `customer_onboarding_events`. The next
onboarding run takes the re-queued rows.

**Runs:** after each onboarding run that left rows needing a human (the Asset
`avepoint://elements/customers/needing-review`: those rows only), and on demand (▶: every row
needing a human, or the `customer_keys` given), at most `max_rows` rows per run.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from include.onboarding.names import DEFAULT_ARGS
from include.onboarding.review import REVIEW_ASSET
from include.onboarding.review_operator import CustomerReviewOperator


@dag(
    dag_id="avepoint_customer_review",
    schedule=[REVIEW_ASSET],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["avepoint", "onboarding", "customers", "review"],
    default_args=DEFAULT_ARGS,
    params={
        "customer_keys": Param(
            [],
            type=["array", "null"],
            items={"type": "string"},
            title="Customer keys",
            description="Only these customer_key values, one per line; leave it empty for every row "
            "needing a human (invalid, rejected, conflict, failed).",
        ),
        "max_rows": Param(
            25,
            type="integer",
            minimum=1,
            maximum=200,
            title="Max rows",
            description="Offer at most this many rows in this run: a whole number from 1 to 200.",
        ),
    },
)
def avepoint_customer_review():
    @task
    def rows_to_review(**context) -> list[dict]:
        from include.onboarding import review

        return review.rows_to_review(context)

    CustomerReviewOperator.partial(
        task_id="review_customer",
        map_index_template="{{ task.review_label }}",
    ).expand_kwargs(rows_to_review())


avepoint_customer_review()
