"""Every DAG file imports cleanly, has tags, retries at least twice, and parses without heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DAGS_FOLDER = ROOT / "dags"
MIN_RETRIES = 2


def load_dagbag():
    from airflow.dag_processing.dagbag import DagBag

    # Airflow 3.3's DagBag has no include_examples: AIRFLOW__CORE__LOAD_EXAMPLES=False (conftest) does it.
    return DagBag(dag_folder=str(DAGS_FOLDER))


DAGBAG = load_dagbag()
DAG_IDS = sorted(DAGBAG.dag_ids)


def retries_problem(task) -> str | None:
    """Why ``task`` does not retry enough, or None. Never raises on an unset value."""
    retries = getattr(task, "retries", None)
    if not isinstance(retries, int) or isinstance(retries, bool):
        return f"task {task.task_id!r}: retries is {retries!r}; set default_args['retries'] >= {MIN_RETRIES}"
    if retries < MIN_RETRIES:
        return f"task {task.task_id!r}: retries is {retries}; need >= {MIN_RETRIES}"
    return None


def test_dag_files_import_without_errors():
    assert DAGBAG.import_errors == {}, "\n".join(f"{f}: {e}" for f, e in DAGBAG.import_errors.items())
    assert len(DAG_IDS) == len(list(DAGS_FOLDER.glob("*.py")))


def test_the_contract_dags_are_there_with_their_schedules():
    assert DAG_IDS == [
        "avepoint_customer_onboarding",
        "avepoint_customer_reconciliation",
        "avepoint_customer_review",
        "avepoint_welcome_customers",
    ]
    assert DAGBAG.dags["avepoint_customer_onboarding"].schedule == "@hourly"
    assert DAGBAG.dags["avepoint_customer_reconciliation"].schedule == "@daily"


def test_reconciliation_never_onboards():
    tasks = DAGBAG.dags["avepoint_customer_reconciliation"].tasks
    assert sorted(t.task_id for t in tasks) == ["reconcile_customers", "send_alerts"]
    assert not [t for t in tasks if "Onboard" in type(t).__name__]


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_has_tags(dag_id):
    assert DAGBAG.dags[dag_id].tags, f"{dag_id} has no tags"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_every_task_retries_at_least_twice(dag_id):
    problems = [p for task in DAGBAG.dags[dag_id].tasks if (p := retries_problem(task))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("retries", [None, 0, 1])
def test_the_retries_check_reports_unset_or_low_values_clearly(retries):
    from airflow.sdk import DAG, BaseOperator

    with DAG("probe", schedule=None):
        task = BaseOperator(task_id="t")
    task.retries = retries
    assert retries_problem(task).startswith("task 't': retries is")


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_has_docs_and_an_explicit_schedule_policy(dag_id):
    dag = DAGBAG.dags[dag_id]
    assert dag.doc_md and len(dag.doc_md) > 200
    assert dag.catchup is False
    assert dag.max_active_runs == 1


def test_onboarding_params_are_typed_described_and_bounded():
    from airflow.sdk import conf

    params = DAGBAG.dags["avepoint_customer_onboarding"].params
    assert set(params.keys()) == {"dry_run", "max_customers", "customer_keys", "drain"}
    for name in params:
        param = params.get_param(name)
        assert param.schema.get("type"), name
        assert param.schema.get("title") and param.description, name
    assert params.get_param("dry_run").value is False
    assert (params.get_param("drain").value, params.get_param("drain").schema["type"]) == (False, "boolean")
    bounds = params.get_param("max_customers").schema
    max_map_length = conf.getint("core", "max_map_length")
    assert (bounds["minimum"], bounds["maximum"]) == (1, 1000)
    assert params["max_customers"] == 500 < bounds["maximum"] < max_map_length
    keys = params.get_param("customer_keys").schema
    assert (keys["type"], keys["items"]) == (["array", "null"], {"type": "string"})  # empty allowed


def parse_in_fresh_process(dag_folder: Path, report: str) -> dict:
    """Load ``dag_folder`` with ``DagBag`` in a new interpreter (as the dag-processor does) and return
    ``report``, a Python expression over ``bag`` and ``sys``, evaluated there and sent back as JSON."""
    code = (
        "import json, sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(dag_folder)!r})\n"
        f"print(json.dumps({report}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_parsing_imports_neither_great_expectations_nor_pandas():
    result = parse_in_fresh_process(
        DAGS_FOLDER,
        "{'errors': len(bag.import_errors), 'dags': len(bag.dag_ids),"
        " 'heavy': sorted({m.split('.')[0] for m in sys.modules} & {'great_expectations', 'pandas'})}",
    )
    assert result == {"errors": 0, "dags": len(DAG_IDS), "heavy": []}


# What an onboarding task needs only when it runs: the DAG file (parsed by the scheduler's loop
# every few seconds, and by every task process) must not pay for importing or building it.
EXECUTE_TIME_MODULES = (
    "avepoint_provider.customer",
    "avepoint_provider.hooks.avepoint",
    "avepoint_provider.outcomes",
    "include.onboarding.pipeline",
    "include.onboarding.warehouse",
)


def test_parsing_the_onboarding_dag_imports_no_execute_time_code_and_builds_no_dataclass():
    project = "[m for m in sys.modules if m.split('.')[0] in ('avepoint_provider', 'include')]"
    result = parse_in_fresh_process(
        DAGS_FOLDER / "avepoint_customer_onboarding.py",
        f"{{'dags': bag.dag_ids, 'modules': {project}, 'dataclasses': ["
        f"f'{{m}}.{{n}}' for m in {project} for n, o in vars(sys.modules[m]).items()"
        " if isinstance(o, type) and '__dataclass_fields__' in vars(o) and o.__module__ == m]}",
    )
    assert result["dags"] == ["avepoint_customer_onboarding"]
    assert sorted(set(EXECUTE_TIME_MODULES) & set(result["modules"])) == []
    # A frozen dataclass costs about a millisecond to build: more than the rest of the DAG's own imports.
    assert result["dataclasses"] == []


def test_a_run_starts_the_next_only_after_finishing_cleanly_and_asks_for_a_review_whatever_happened():
    from airflow.sdk import TriggerRule

    from include.onboarding.review import REVIEW_ASSET

    dag = DAGBAG.dags["avepoint_customer_onboarding"]
    finish = dag.get_task("finish_run")
    next_run, review = dag.get_task("start_next_run"), dag.get_task("request_review")
    assert finish.downstream_task_ids >= {"start_next_run", "request_review"}
    # A failed run (finish_run failed) starts no next run; rows it left still get their review.
    assert (next_run.trigger_rule, review.trigger_rule) == (TriggerRule.ALL_SUCCESS, TriggerRule.ALL_DONE)
    assert [o.uri for o in review.outlets] == [REVIEW_ASSET.uri]
    assert dag.max_active_runs == 1  # a drained run waits for the one that started it


def test_the_review_dag_runs_on_the_onboarding_runs_request_and_never_renders_row_data():
    from include.onboarding.review import REVIEW_ASSET

    dag = DAGBAG.dags["avepoint_customer_review"]
    assert [a.uri for a in dag.timetable.asset_condition.objects] == [REVIEW_ASSET.uri]
    review = dag.get_task("review_customer")
    assert review.operator_class.template_fields == ()  # subject, body and form hold row data
    assert review.map_index_template == "{{ task.review_label }}"
    assert set(dag.params.keys()) == {"customer_keys", "max_rows"}
