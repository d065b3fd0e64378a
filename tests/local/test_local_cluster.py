"""``make cluster`` (``tools.local_cluster``): the CeleryExecutor cluster comes up with its UI, and a
signal stops every process it started.
"""

from __future__ import annotations

import os
import uuid

import pytest

from tests.support import local_run
from tests.support.deployment import free_port, require_redis
from tests.support.postgres import require_postgres

pytestmark = [pytest.mark.celery, pytest.mark.deployment, pytest.mark.postgres]


def test_sighup_stops_every_process_of_the_cluster(tmp_path):
    """A closed terminal. SIGTERM is checked on ``make airflow``'s tree, every signal on a light one
    (test_stop_signals).
    """
    import psycopg

    server = require_postgres()
    broker = require_redis()
    database = f"avepoint_cluster_test_{uuid.uuid4().hex[:8]}"
    api_port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    marker = uuid.uuid4().hex  # in the environment of every process the run starts
    env |= {
        "AVEPOINT_LOCAL_RUN": marker,
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    }
    args = [
        "--api-port", str(api_port), "--sandbox-port", str(sandbox_port), "--state-dir", str(tmp_path),
        "--postgres", server, "--database", database, "--broker", broker, "--concurrency", "1",
    ]  # fmt: skip
    output = tmp_path / "make-cluster.log"
    process = local_run.start("tools.local_cluster", args, env, output)
    started = []
    try:
        local_run.wait_healthy(
            process,
            f"http://127.0.0.1:{api_port}",
            ("metadatabase", "scheduler", "dag_processor", "triggerer"),
            output,
        )
        started = local_run.descendants(process)
        workers = [p for p in started if "celery worker" in " ".join(p.cmdline())]
        assert len(workers) >= 2, local_run.describe(started)
        # So this SIGHUP to the group reaches the module alone, as SIGTERM would (test_stop_signals).
        assert local_run.describe(local_run.in_its_group(process)) == []
        local_run.send(process, "SIGHUP")
        assert process.wait(timeout=120) == 0, output.read_text()[-3000:]
        assert local_run.describe(local_run.leftovers(started, marker)) == []
        assert local_run.port_free(api_port) and local_run.port_free(sandbox_port)
    finally:
        local_run.kill(local_run.leftovers(started, marker))  # the module itself among them
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
