"""Exactly once on a CeleryExecutor cluster whose worker dies mid-run.

API server, scheduler, dag-processor, triggerer and two Celery workers (``w1``, ``w2``, 4 slots
each) run as separate process groups against PostgreSQL (metadata and Celery results) and a Redis
broker on a database of their own. 120 customers are onboarded under injected faults while one
whole worker is SIGKILLed with onboarding tasks running on it; runs are triggered until no row is
left to take. Run it alone with ``pytest -m celery``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.deployment.conftest import CLAIM_TIMEOUT_MINUTES, DAG_ID, ROOT, Stack, customer, deployment_stack
from tests.support.deployment import require_redis

pytestmark = [pytest.mark.celery, pytest.mark.deployment, pytest.mark.postgres]

# Enough that w1 is busy with some onboarding tasks and done with others when it is killed.
CUSTOMERS = 120
# A dead worker's running tasks are failed (and retried elsewhere) once they miss heartbeats this long.
HEARTBEAT_TIMEOUT_SECONDS = 30
UNFINISHED = {"pending", "retry", "in_progress"}
# Every Graph request's delay until w1 is killed: w1's onboarding tasks then spend most of their
# time waiting on AvePoint (far longer than one poll of the API), so the kill lands mid-call.
KILL_LATENCY_MS = 2000


@pytest.fixture(scope="module")
def celery_stack(rsa_private_pem, rsa_public_pem) -> Iterator[Stack]:
    broker_url = require_redis()
    with deployment_stack(
        ROOT / "var" / "celery-test",
        rsa_private_pem,
        rsa_public_pem,
        executor="CeleryExecutor",
        broker_url=broker_url,
        components=("api-server", "scheduler", "dag-processor", "triggerer"),
        workers=("w1", "w2"),
        worker_concurrency=4,
        parallelism=8,
        # One API slot per worker slot, so both workers onboard at once.
        pools={"avepoint_api": 8},
        extra_env={
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_SECONDS),
            # A task the dead worker had taken from the broker but not started stays queued this long.
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
        },
    ) as stack:
        yield stack


def onboarding_tis(stack: Stack, run_id: str) -> list[dict]:
    return [t for t in stack.airflow.task_instances(DAG_ID, run_id) if t["task_id"] == "onboard_customer"]


def worker_of(ti: dict) -> str:
    return (ti["hostname"] or "").split("@")[0]


# ~3 min on a quiet 2-core machine, ~7 min when other work shares the cores.
@pytest.mark.timeout(900)
def test_a_killed_celery_worker_loses_no_row_and_creates_no_customer_twice(celery_stack, capsys):
    stack = celery_stack
    began = time.monotonic()
    stack.add([customer(f"CE-{n:03d}") for n in range(CUSTOMERS)])
    stack.control.set_faults(
        error_rate_500=0.05,
        error_rate_503=0.05,
        rate_429=0.03,
        retry_after=1,
        timeout_rate=0.03,
        hang_seconds=4,
        lost_response_rate=0.05,
        lost_response_mode="mixed",
        latency_ms=KILL_LATENCY_MS,
    )
    try:
        run_ids = [stack.airflow.trigger(DAG_ID)]

        # Kill w1 once it has finished onboarding tasks and has others running: both workers then
        # provably ran some, and the kill hits tasks mid-flight.
        def w1_tis() -> list[dict]:
            return [t for t in onboarding_tis(stack, run_ids[0]) if worker_of(t) == "w1"]

        def w1_busy() -> bool:
            states = {t["state"] for t in w1_tis()}
            return {"running", "success"} <= states

        stack.airflow.wait_until(w1_busy, 300, "onboarding tasks running on w1", interval=0.5)
        stack.airflow.kill("worker-w1")
        killed_at = time.monotonic()
        stack.control.set_faults(latency_ms=0)
        time.sleep(1)  # lets the API server finish any state update a task had sent before it died
        # Read after the kill: a task still `running` now was killed mid-flight (a dead worker
        # reports nothing more, and the scheduler waits HEARTBEAT_TIMEOUT_SECONDS to notice).
        killed = {t["map_index"]: t["try_number"] for t in w1_tis() if t["state"] == "running"}
        assert killed, "the kill caught no onboarding task running on w1"

        for _ in range(4):
            stack.airflow.wait_for_run(DAG_ID, run_ids[-1], 600)
            left = {r["status"] for r in stack.sql_rows("CE-")} & UNFINISHED
            if not left:
                break
            if "in_progress" in left:  # a claim the dead worker held is taken again once stale
                time.sleep(CLAIM_TIMEOUT_MINUTES * 60)
            run_ids.append(stack.airflow.trigger(DAG_ID))
        drained_at = time.monotonic()
    finally:
        stack.control.clear_faults()

    rows = stack.rows("CE-")
    assert len(rows) == CUSTOMERS
    assert {r["status"] for r in rows.values()} == {"onboarded"}
    inspect = stack.control.inspect()
    created = {a: n for a, n in inspect["creations_per_account"].items() if a.startswith("ce-")}
    assert len(created) == CUSTOMERS and set(created.values()) == {1}
    assert {a: n for a, n in inspect["posts_after_creation"].items() if a.startswith("ce-")} == {}

    first_run = {t["map_index"]: t for t in onboarding_tis(stack, run_ids[0])}
    not_taken_over = {i: tries for i, tries in killed.items() if first_run[i]["try_number"] <= tries}
    assert not_taken_over == {}, (
        f"tasks killed on w1 and never tried again (map index: try): {not_taken_over}"
    )
    workers = {
        worker_of(t) for run_id in run_ids for t in onboarding_tis(stack, run_id) if t["state"] == "success"
    }
    assert {"w1", "w2"} <= workers, f"onboarding tasks succeeded on {workers}"

    logs = [p for p in (stack.airflow.home / "logs").rglob("*") if p.is_file()]
    worker_logs = [p for p in logs if p.name in ("worker-w1.log", "worker-w2.log")]
    assert len(worker_logs) == 2 and any("task_id=onboard_customer" in str(p) for p in logs)
    secrets = set(stack.passwords) | {stack.private_key.strip()}
    secrets |= {line for line in stack.private_key.splitlines() if line and not line.startswith("-----")}
    secrets |= set(inspect["tokens_issued"])
    secrets = {s for s in secrets if len(s) >= 6}
    texts = {str(p): p.read_text(errors="replace") for p in logs}
    hits = [(where, s[:12] + "…") for where, text in texts.items() for s in secrets if s in text]
    assert hits == [], f"{len(hits)} secret(s) found: {hits[:10]}"

    with capsys.disabled():
        print(
            f"\n[celery] {CUSTOMERS} customers, {len(run_ids)} run(s): w1 killed {killed_at - began:.0f} s "
            f"after loading ({len(killed)} onboarding task(s) killed mid-flight, all "
            f"tried again), drained {drained_at - killed_at:.0f} s after the kill, "
            f"{time.monotonic() - began:.0f} s in all"
        )
