"""The no-op twin of the onboarding DAG: the baseline of the parse and scheduler benchmarks.

Same tasks (ids, trigger rules, retries), same params and ``default_args``, the same mapping
(``.partial(pool=..., map_index_template=...).expand_kwargs(...)``) and the same XCom shapes, so
Airflow does the same work for it; but its tasks do nothing and it imports nothing from the
project. What the real DAG costs beyond the twin is what the project adds.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from bench.common import ROOT

REAL_DAG_FILE = ROOT / "dags" / "avepoint_customer_onboarding.py"
REAL_DAG_ID = "avepoint_customer_onboarding"
TWIN_DAG_ID = "avepoint_customer_onboarding_noop"
TWIN_FILE_NAME = "avepoint_customer_onboarding_noop.py"

_TEMPLATE = '''\
{docstring}

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import BaseOperator, Param, TriggerRule, dag, task

POOL = "avepoint_api"
RETRY_DELAY = timedelta(seconds=float(os.environ.get("AVEPOINT_ONBOARDING_RETRY_DELAY_SECONDS", "60")))


class NoopOnboardCustomerOperator(BaseOperator):
    """Takes the real operator's arguments and returns a result of the same shape; sends nothing."""

    template_fields = ("customer_key", "customer_label", "table", "max_attempts")

    def __init__(self, *, customer_key, customer_label=None, table="customer_onboarding",
                 max_attempts=5, **kwargs):
        super().__init__(**kwargs)
        self.customer_key = customer_key
        self.customer_label = customer_label or customer_key
        self.table = table
        self.max_attempts = max_attempts

    def execute(self, context):
        return {{"customer_key": self.customer_key, "outcome": "onboarded", "status": "onboarded",
                "api_status": 1, "avepoint_customer_id": None, "reason": "no-op", "http_status": 200,
                "request_id": None, "attempt": 1}}


@dag(
    dag_id="{dag_id}",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["avepoint", "onboarding", "customers"],
    default_args={{
        "owner": "partner-operations",
        "retries": 2,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
    }},
    params={{
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="Validate and report what would be sent (without passwords). "
                         "No API call, no claim, no status change."),
        "max_customers": Param(500, type="integer", minimum=1, maximum=1000, title="Max customers",
                               description="Take at most this many customers in this run (1-1000; "
                               "Airflow maps at most 1024 tasks)."),
        "customer_keys": Param([], type="array", items={{"type": "string"}}, title="Customer keys",
                               description="Only these customer_key values, one per line (empty: all "
                               "waiting rows). Rows must still be pending, retry or a stale in_progress."),
    }},
)
def avepoint_customer_onboarding_noop():
    @task(task_id="claim_customers")
    def claim_customers(**context) -> dict:
        count = int(context["params"]["max_customers"])
        return {{"keys": [f"NOOP-{{i:05d}}" for i in range(count)], "dry_run": False}}

    @task(task_id="validate_customers")
    def validate_customers(claim: dict, **context) -> list[dict]:
        context["ti"].xcom_push(key="report", value={{"valid": len(claim["keys"]), "invalid": 0}})
        return [
            {{"customer_key": key, "customer_label": f"{{key}} · Org {{key}}",
             "table": "customer_onboarding", "max_attempts": 5}}
            for key in claim["keys"]
        ]

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def finish_run(**context) -> dict:
        return {{"run_id": context["run_id"], "claimed": 0}}

    validated = validate_customers(claim_customers())
    onboarded = NoopOnboardCustomerOperator.partial(
        task_id="onboard_customer",
        pool=POOL,
        map_index_template="{{{{ task.customer_label }}}}",
    ).expand_kwargs(validated)
    onboarded >> finish_run()


avepoint_customer_onboarding_noop()
'''


def twin_source() -> str:
    """The twin's Python source, with the real DAG's docstring (so ``doc_md`` weighs the same)."""
    docstring = ast.get_docstring(ast.parse(REAL_DAG_FILE.read_text("utf-8")), clean=False) or ""
    return _TEMPLATE.format(docstring='"""' + docstring.replace('"""', r"\"\"\"") + '"""', dag_id=TWIN_DAG_ID)


def write_dags_folder(folder: Path, *, with_real: bool = True) -> Path:
    """A DAG folder holding the twin (and a copy of the real DAG file); returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TWIN_FILE_NAME).write_text(twin_source(), "utf-8")
    if with_real:
        shutil.copy2(REAL_DAG_FILE, folder / REAL_DAG_FILE.name)
    return folder
