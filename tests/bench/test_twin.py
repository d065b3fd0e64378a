"""The benchmarks' no-op twin cannot drift from the onboarding DAG: same params, tasks, wiring, pool."""

from __future__ import annotations

from typing import Any

from bench.twin import REAL_DAG_ID, TWIN_DAG_ID, write_dags_folder


def shape(dag: Any) -> dict[str, Any]:
    """What Airflow's scheduling depends on, apart from what the tasks do."""
    return {
        "params": {name: param.schema for name, param in dag.params.items()},
        "defaults": {name: dag.params[name] for name in dag.params},
        "schedule": repr(dag.timetable),
        "max_active_runs": dag.max_active_runs,
        "catchup": dag.catchup,
        "tags": sorted(dag.tags),
        "tasks": {
            task.task_id: {
                "upstream": sorted(task.upstream_task_ids),
                "trigger_rule": str(task.trigger_rule),
                "retries": task.retries,
                "retry_delay": task.retry_delay,
                "pool": task.pool,
                "mapped": type(task).__name__ == "MappedOperator",
                "map_index_template": getattr(task, "map_index_template", None),
                "outlets": len(task.outlets or []),
            }
            for task in dag.tasks
        },
    }


def test_the_twin_has_the_dag_s_params_tasks_wiring_and_pool(tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(write_dags_folder(tmp_path)))
    assert not bag.import_errors
    assert shape(bag.dags[TWIN_DAG_ID]) == shape(bag.dags[REAL_DAG_ID])
