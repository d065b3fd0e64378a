"""
### Welcome newly onboarded customers (an example of a DAG downstream of onboarding)

Scheduled on the Asset `avepoint://elements/customers`: it runs after each onboarding run that
onboarded at least one customer. The triggering event's extra lists the onboarded customers
(`customer_key` and `avepoint_customer_id`, no e-mail address) with the run's counts per status.

**Task:** `queue_welcome` logs one welcome item per onboarded customer and returns them. Replace
it with your own follow-up (a CRM task, a welcome message through your own service); keep the
work idempotent per `customer_key`, since a customer may appear in more than one event when
several onboarding runs are merged into one run of this DAG.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from include.onboarding.assets import CUSTOMERS_ASSET
from include.onboarding.names import DEFAULT_ARGS


@dag(
    dag_id="avepoint_welcome_customers",
    schedule=[CUSTOMERS_ASSET],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["avepoint", "onboarding", "example"],
    default_args=DEFAULT_ARGS,
)
def avepoint_welcome_customers():
    @task
    def queue_welcome(**context) -> list[dict]:
        from include.onboarding.assets import queue_welcome

        return queue_welcome(context)

    queue_welcome()


avepoint_welcome_customers()
