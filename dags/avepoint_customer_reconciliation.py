"""
### Reconcile the warehouse with AvePoint's customer list

Once a day this DAG pages through the partner's customers in AvePoint (connection
`avepoint_default`, list endpoint, pages of 100) and compares them with the warehouse table
(connection `customer_warehouse`). It never onboards anyone: no POST to the onboarding endpoint.

**Tasks:** `reconcile_customers` (list, compare, settle, record; owes the run's alert with its
findings) → `send_alerts` (the run's note, then the alerts owed, this run's among them).

#### Findings (one row each per run in `<table>_drift`, counted in the run's note)
| kind | what | what happens |
| --- | --- | --- |
| `missing_in_avepoint` | an `onboarded` row whose AvePoint id AvePoint does not list | reported |
| `account_mismatch` | an `onboarded` row whose id is listed under another account | reported |
| `unknown_customer` | a listed customer that no warehouse row knows | reported |
| `settled` | exactly one listed customer has a `conflict` or `retry` row's account, under its organization: an earlier attempt created it | set `onboarded` with that id (password erased, an events row says why) |
| `duplicate_account` | as `settled`, but another row already holds that AvePoint id | reported, not settled |
| `ambiguous_match` | the account is listed more than once, without an id, or under another organization | reported, not settled |

Accounts match only by the project's one account identity (trimmed, ASCII letters lowered, no
Unicode folding). Rows `in_progress` are never touched. Findings name customer keys and AvePoint
ids, never an e-mail address.

#### Each finding is alerted once
A finding is alerted when it first appears or changes, recorded as `standing` while it stays,
`closed` when it is gone, and `acknowledged` (never alerted) once a person acknowledges it (the
`drift_acknowledged` key of the `avepoint_onboarding` Variable, or `acknowledge_drift`; see the
README). The first reconciliation takes the customers AvePoint already lists and no row knows
as its **baseline**: one line, not one alert each. Alerts go to `alert_emails` /
`alert_slack_conn_id` when `alert_on` includes `drift`; a task that fails for good alerts too.
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
