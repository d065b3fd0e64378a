"""The Airflow settings every deployment of the project should have (``WORKER_SETTINGS``, which
says why) are the same in the image, ``make airflow``, ``make cluster`` and the test deployments.
"""

from __future__ import annotations

from tests.packaging.project_files import dockerfile_environment
from tools.local_airflow import WORKER_SETTINGS, airflow_environment
from tools.local_cluster import cluster_environment


def test_the_worker_settings_shorten_the_supervisor_s_wait_for_a_finished_task():
    assert int(WORKER_SETTINGS["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"]) == 1


def test_the_image_sets_the_worker_settings():
    env = dockerfile_environment()
    assert {k: env.get(k) for k in WORKER_SETTINGS} == WORKER_SETTINGS


def test_make_airflow_and_make_cluster_set_the_worker_settings(tmp_path):
    standalone = airflow_environment(8080, tmp_path)
    cluster = cluster_environment(
        api_port=8080,
        home=tmp_path,
        metadata_url="postgresql://postgres@127.0.0.1/cluster",
        broker_url="redis://127.0.0.1:6379/0",
        concurrency=4,
    )
    for env in (standalone, cluster):
        assert {k: env.get(k) for k in WORKER_SETTINGS} == WORKER_SETTINGS
