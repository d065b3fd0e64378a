"""
### Reconcile the warehouse with AvePoint's customer list

Once a day this DAG pages through the partner's customers in AvePoint (connection
`avepoint_default`, list endpoint, pages of 100) and compares them with the warehouse table
(connection `customer_warehouse`). It never onboards anyone: no POST to the onboarding endpoint.

**Tasks:** `reconcile_customers` (list, compare, settle, record) → `send_alerts` (the run's note,
the drift alert, alerts still owed by earlier runs).

#### Findings (one row each in `<table>_drift`, counted in the run's note)
| kind | what | what happens |
| --- | --- | --- |
| `missing_in_avepoint` | an `onboarded` row whose AvePoint id AvePoint does not list | reported |
| `account_mismatch` | an `onboarded` row whose id is listed under another account | reported |
| `unknown_customer` | a listed customer that no warehouse row knows | reported |
| `settled` | a `conflict` or `retry` row whose account AvePoint lists: an earlier attempt created it | set `onboarded` with that id (password erased, an events row says why) |
| `duplicate_account` | as `settled`, but another row already holds that AvePoint id | reported, not settled |

Rows `in_progress` are never touched. Findings name customer keys and AvePoint ids, never an
e-mail address. Drift that needs a human sends one alert (`alert_emails`, `alert_slack_conn_id`
in the `avepoint_onboarding` Variable; `alert_on` must include `drift`).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from include.onboarding.names import DEFAULT_ARGS, POOL


def _alert_on_failure(context) -> None:
    """A task failed for good (AvePoint or the warehouse unreachable, say): alert (the README, Alerts)."""
    from include.onboarding.alerts import alert_after_failure

    alert_after_failure(context)


@dag(
    dag_id="avepoint_customer_reconciliation",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["avepoint", "onboarding", "reconciliation"],
    default_args=DEFAULT_ARGS,
)
def avepoint_customer_reconciliation():
    @task(pool=POOL, multiple_outputs=False, on_failure_callback=_alert_on_failure)
    def reconcile_customers(**context) -> dict:
        from include.onboarding.reconciliation import reconcile

        return reconcile(context)

    @task(multiple_outputs=False, on_failure_callback=_alert_on_failure)
    def send_alerts(result: dict, **context) -> dict:
        from include.onboarding.reconciliation import finish

        return finish(context, result)

    send_alerts(reconcile_customers())


avepoint_customer_reconciliation()
