"""The provider's example DAG: it imports cleanly, follows the Airflow rules, and onboards a
customer exactly once end to end (``dag.test()`` against the sandbox, real Airflow Variables)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import avepoint_provider.example_dags
from tests.conftest import set_connection

EXAMPLE_DAGS = Path(avepoint_provider.example_dags.__file__).parent
DAG_ID = "example_avepoint_onboard_customer"
PASSWORD = "Example-Dag-Secret-Pw-3!"
ACCOUNT = "ann.lee@contoso.example"
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
PARAMS = {
    "first_name": "Ann",
    "last_name": "Lee",
    "organization_name": "Contoso",
    "registration_account": ACCOUNT,
    "country_code": "US",
    "data_center": "e44bb3ed-f1d8-4055-8c77-c8fd8cd63409",
    "telephone_number": None,
    "tags": ["vip"],
    "management_mode": None,
    "password_conn_id": "avepoint_customer_password",
}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(EXAMPLE_DAGS))


def test_the_example_dag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dag_ids == [DAG_ID]


def test_the_example_dag_passes_ruff_s_airflow_rules():
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "check", "--preview", "--select", "AIR", str(EXAMPLE_DAGS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_example_dag_is_documented_manual_and_retried(dagbag):
    dag = dagbag.dags[DAG_ID]
    assert dag.schedule is None
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert "secrets backend" in dag.doc_md
    assert dag.tags == {"avepoint", "example"}
    assert {task.task_id: (task.owner, task.retries) for task in dag.tasks} == {
        "register_customer": ("airflow", 2),
        "onboard_customer": ("airflow", 2),
    }
    assert set(dag.params.keys()) == set(PARAMS)


def test_the_password_comes_only_from_a_connection_under_the_fixed_prefix(dagbag):
    from airflow.sdk.exceptions import ParamValidationError

    param = dagbag.dags[DAG_ID].params.get_param("password_conn_id")
    for allowed in ("avepoint_customer_password", "avepoint_customer_password_acme-1"):
        assert param.resolve(allowed) == allowed
    for refused in (
        "avepoint_default",
        "smtp_default",
        "avepoint_customer_passwordx",
        "x_avepoint_customer_password",
    ):
        with pytest.raises(ParamValidationError):
            param.resolve(refused)


@pytest.mark.integration
def test_the_example_dag_onboards_once_and_never_leaks_the_password(
    dagbag, airflow_db, sandbox, monkeypatch, capfd
):
    set_connection(monkeypatch, "avepoint_customer_password", conn_type="generic", password=PASSWORD)
    # dag.test() writes the DAG to the metadata database from a configured bundle: add one for the
    # provider's example folder, keeping the project's own dags-folder bundle as it is.
    bundles = [
        {"name": "avepoint-example-dags", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(EXAMPLE_DAGS)}},
        {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    dag = dagbag.dags[DAG_ID]

    first = dag.test(run_conf=PARAMS)
    assert first.state == "success"
    assert sandbox.inspect()["creations_per_account"] == {ACCOUNT: 1}
    result = xcom_value(first.run_id, "onboard_customer")
    assert (result["status"], result["api_status"]) == ("onboarded", 1)

    # The same params again: the store remembers the customer is onboarded, nothing is POSTed.
    second = dag.test(run_conf=PARAMS)
    assert second.state == "success"
    assert second.run_id != first.run_id
    assert sandbox.inspect()["creations_per_account"] == {ACCOUNT: 1}
    assert sandbox.inspect()["posts_per_account"] == {ACCOUNT: 1}
    again = xcom_value(second.run_id, "onboard_customer")
    assert again["status"] == "onboarded"
    assert again["avepoint_customer_id"] == result["avepoint_customer_id"]
    assert again["reason"].startswith(f"already onboarded by run {first.run_id}")

    logs = "\n".join(capfd.readouterr())
    assert "Customer ann.lee@contoso.example (Contoso): attempt 1 of 5" in logs  # task logs were captured
    assert PASSWORD not in logs
    for run in (first, second):
        assert PASSWORD not in "\n".join(xcom_values(run.run_id))
        assert PASSWORD not in rendered_fields(run.run_id)
    assert PASSWORD not in json.dumps(store_variables())


def xcom_values(run_id: str) -> list[str]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.run_id == run_id).all()
        assert rows, f"run {run_id} left no XCom"
        return [json.dumps(row.value) for row in rows]


def xcom_value(run_id: str, task_id: str) -> dict:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter(XComModel.run_id == run_id, XComModel.task_id == task_id, XComModel.key == "return_value")
            .one()
        )
        value = row.value
    return json.loads(value) if isinstance(value, str) else value


def rendered_fields(run_id: str) -> str:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(RenderedTaskInstanceFields).filter_by(run_id=run_id).all()
        assert rows, f"run {run_id} kept no rendered fields"
        return json.dumps([row.rendered_fields for row in rows], default=str)


def store_variables() -> dict[str, str]:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(Variable).filter(Variable.key.startswith("avepoint_onboarding_state.")).all()
        assert rows, "the store wrote no Variable"
        return {row.key: row.val for row in rows}
