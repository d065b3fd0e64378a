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

import pendulum
from airflow.sdk import Asset, BaseOperator, Param, TriggerRule, dag, task

from include.onboarding.names import DEFAULT_ARGS, POOL


class NoopOnboardCustomerOperator(BaseOperator):
    """Takes the real operator's arguments and returns a result of the same shape; sends nothing."""

    template_fields = ()  # as the real operator: the mapped values are data, never rendered

    def __init__(self, *, customer_key, customer_label=None, max_attempts=5, **kwargs):
        super().__init__(**kwargs)
        self.customer_key = customer_key
        self.customer_label = customer_label
        self.max_attempts = max_attempts
        self.outcome = None

    @property
    def label(self):
        label = self.customer_label or str(self.customer_key)
        return f"{{label}} — {{self.outcome}}" if self.outcome else label

    def execute(self, context):
        self.outcome = "onboarded"
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
    default_args={default_args},
    params={params},
)
def avepoint_customer_onboarding_noop():
    @task(task_id="prepare_table")
    def prepare_table(**context) -> None:
        return None

    @task(task_id="claim_customers", multiple_outputs=False)
    def claim_customers(**context) -> dict:
        count = int(context["params"]["max_customers"])
        return {{"keys": [f"NOOP-{{i:05d}}" for i in range(count)], "dry_run": False}}

    @task(task_id="validate_customers")
    def validate_customers(claim: dict, **context) -> list[dict]:
        context["ti"].xcom_push(key="report", value={{"valid": len(claim["keys"]), "invalid": 0}})
        return [
            {{"customer_key": key, "customer_label": f"{{key}} · Org {{key}}", "max_attempts": 5}}
            for key in claim["keys"]
        ]

    @task(trigger_rule=TriggerRule.ALL_DONE, multiple_outputs=False)
    def finish_run(**context) -> dict:
        return {{"run_id": context["run_id"], "claimed": 0}}

    claimed = claim_customers()
    prepare_table() >> claimed
    @task(trigger_rule=TriggerRule.ALL_DONE, outlets=[Asset("noop://avepoint/customers")],
          multiple_outputs=False)
    def announce_customers(**context) -> dict:
        return {{"onboarded": 0}}

    @task
    def start_next_run(**context) -> None:
        return None

    @task(trigger_rule=TriggerRule.ALL_DONE, outlets=[Asset("noop://avepoint/needing-review")],
          multiple_outputs=False)
    def request_review(**context) -> dict:
        return {{"counts": {{}}}}

    validated = validate_customers(claimed)
    onboarded = NoopOnboardCustomerOperator.partial(
        task_id="onboard_customer",
        pool=POOL,
        map_index_template="{{{{ task.label }}}}",
    ).expand_kwargs(validated)
    finished = finish_run()
    onboarded >> [finished, announce_customers()]
    finished >> [start_next_run(), request_review()]


avepoint_customer_onboarding_noop()
'''


def twin_source() -> str:
    """The twin's Python source: the real DAG's docstring (so ``doc_md`` weighs the same), and its
    ``params`` and ``default_args`` copied from the real ``@dag(...)`` call, so they cannot drift.
    """
    source = REAL_DAG_FILE.read_text("utf-8")
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree, clean=False) or ""
    dag_call = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dag"
    )
    copied = {k.arg: ast.get_source_segment(source, k.value) for k in dag_call.keywords}
    return _TEMPLATE.format(
        docstring='"""' + docstring.replace('"""', r"\"\"\"") + '"""',
        dag_id=TWIN_DAG_ID,
        params=copied["params"],
        default_args=copied["default_args"],
    )


def write_dags_folder(folder: Path, *, with_real: bool = True) -> Path:
    """A DAG folder holding the twin (and a copy of the real DAG file); returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TWIN_FILE_NAME).write_text(twin_source(), "utf-8")
    if with_real:
        shutil.copy2(REAL_DAG_FILE, folder / REAL_DAG_FILE.name)
    return folder
