"""``make airflow`` (``tools.local_airflow``): its sandbox knows the demo's AvePoint-side customers,
and a signal stops everything it started.
"""

from __future__ import annotations

import os
import uuid

import pytest

from avepoint_sandbox import SandboxControl
from tests.support import local_run
from tests.support.deployment import free_port
from tools.demo.customers import sandbox_seed
from tools.local_airflow import start_sandbox, stop_process_group


def test_the_sandbox_is_seeded_like_the_demo_s(tmp_path):
    """So the demo's other-partner customer ends ``conflict`` in the UI too, not ``onboarded``."""
    port = free_port()
    sandbox = start_sandbox(port, tmp_path / "sandbox-state.json")
    try:
        inspect = SandboxControl(f"http://127.0.0.1:{port}").inspect()
    finally:
        stop_process_group(sandbox, timeout=10)
    seed = sandbox_seed()
    assert inspect["other_partner_accounts"] == sorted(a.lower() for a in seed["other_partner_accounts"])
    ours = {c["ownerEmail"].lower() for c in inspect["customers"]}
    assert {c["registrationAccount"].lower() for c in seed["customers"]} <= ours


@pytest.mark.deployment
def test_sigterm_stops_airflow_standalone_and_the_sandbox(tmp_path):
    """SIGHUP is checked on ``make cluster``'s tree, every signal on a light one (test_stop_signals)."""
    home = tmp_path / "airflow"
    api_port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    marker = uuid.uuid4().hex  # in the environment of every process the run starts
    env |= {
        "AVEPOINT_LOCAL_RUN": marker,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__PARALLELISM": "2",
        # Free log server ports: a `make airflow` or another test may hold 8793/8794.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    }
    args = ["--api-port", str(api_port), "--sandbox-port", str(sandbox_port), "--state-dir", str(tmp_path)]
    output = tmp_path / "make-airflow.log"
    process = local_run.start("tools.local_airflow", args, env, output)
    started = []
    try:
        local_run.wait_healthy(
            process,
            f"http://127.0.0.1:{api_port}",
            ("metadatabase", "scheduler", "dag_processor", "triggerer"),
            output,
        )
        started = local_run.descendants(process)
        assert len(started) >= 5, "standalone's components should be running"
        # So SIGHUP to the group would reach the module alone, as this SIGTERM does (test_stop_signals).
        assert local_run.describe(local_run.in_its_group(process)) == []
        local_run.send(process, "SIGTERM")
        assert process.wait(timeout=120) == 0, output.read_text()[-3000:]
        assert local_run.describe(local_run.leftovers(started, marker)) == []
        assert local_run.port_free(api_port) and local_run.port_free(sandbox_port)
    finally:
        local_run.kill(local_run.leftovers(started, marker))  # the module itself among them
