"""A row being sent is never taken by another run: the claim's heartbeat and its minimum timeout."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from avepoint_provider.hooks.avepoint import AvePointHook
from avepoint_provider.operators.onboard import AvePointOnboardCustomerOperator
from include.onboarding.claim_timing import effective_claim_timeout
from include.onboarding.store import WarehouseStore
from tests.conftest import avepoint_connection, set_connection
from tests.support.rows import make_customer, run_sql


def hook_with(monkeypatch, sandbox_server, **extra) -> AvePointHook:
    set_connection(monkeypatch, "avepoint_default", **avepoint_connection(sandbox_server, **extra))
    return AvePointHook("avepoint_default")


def test_a_claim_timeout_shorter_than_one_call_is_raised_with_a_warning(monkeypatch, sandbox_server, caplog):
    hook = hook_with(monkeypatch, sandbox_server, timeout=3, retry_max_elapsed=20)
    bound = hook.max_call_seconds()
    assert bound >= 20 + 3  # the retries' time, and at least the last request's timeout

    with caplog.at_level("WARNING", logger="include.onboarding.claim_timing"):
        raised = effective_claim_timeout(timedelta(seconds=10), hook)
    assert raised.total_seconds() >= bound + 5
    assert "shorter than one onboarding call may take" in caplog.text

    caplog.clear()
    assert effective_claim_timeout(timedelta(hours=1), hook) == timedelta(hours=1)
    assert caplog.text == ""


@pytest.mark.integration
@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_the_claim_task_uses_the_raised_timeout(monkeypatch, sandbox, warehouse):
    """claim_customers with claim_timeout_minutes of 1 s: a row whose heartbeat is 10 s old is not stale."""
    from include.onboarding import pipeline
    from include.onboarding.config import OnboardingSettings

    hook_with(monkeypatch, sandbox.server, timeout=3, retry_max_elapsed=2)  # bound 8 s: raised to 13 s
    monkeypatch.setattr(
        OnboardingSettings, "load", classmethod(lambda cls: cls(claim_timeout_minutes=1 / 60))
    )
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    warehouse.add_customers([make_customer("HELD", requested_at=hour_ago), make_customer("FREE")])
    end = datetime.now(UTC) + timedelta(hours=1)
    assert warehouse.claim(run_id="run-A", interval_end=end, limit=1, claim_timeout=timedelta(hours=1)) == [
        "HELD"
    ]
    ten_seconds_ago = warehouse._timestamp(datetime.now(UTC) - timedelta(seconds=10))
    run_sql(warehouse, f"UPDATE {warehouse.table} SET claimed_at = :t WHERE claimed_by = 'run-A'",
            {"t": ten_seconds_ago})  # fmt: skip
    context = {
        "params": {"dry_run": False, "max_customers": 10, "customer_keys": []},
        "run_id": "run-B",
        "data_interval_end": end,
    }

    assert pipeline.claim_customers(context) == {"keys": ["FREE"], "dry_run": False}


@pytest.mark.integration
@pytest.mark.parametrize("warehouse", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_row_being_sent_is_never_taken_by_another_run(monkeypatch, sandbox, warehouse):
    """Run A's task waited (a full pool) past the claim timeout, then starts sending; AvePoint answers
    later than the configured claim timeout. Run B claims meanwhile: it must not take the row.

    Without the heartbeat in begin_attempt, A's claim looks a minute old; without the minimum
    timeout, A's heartbeat is older than the configured second. Either way B would take and send it.
    Time does not pass by sleeping: once A's POST is in AvePoint's hands, A's heartbeat is moved back
    past the configured timeout, and B claims while AvePoint provably has not answered A yet.
    """
    configured = timedelta(seconds=1)
    hook = hook_with(monkeypatch, sandbox.server, timeout=3, retry_max_elapsed=2)
    account = "sending@customers.example"
    warehouse.add_customers([make_customer("SENDING", registration_account=account)])
    end = datetime.now(UTC) + timedelta(hours=1)
    timeout = effective_claim_timeout(configured, hook)
    assert warehouse.claim(run_id="run-A", interval_end=end, limit=10, claim_timeout=timeout) == ["SENDING"]
    minute_ago = datetime.now(UTC) - timedelta(minutes=1)
    run_sql(warehouse, f"UPDATE {warehouse.table} SET claimed_at = :t", {"t": minute_ago})
    sandbox.set_faults(latency_ms=2500)  # within the connection's 3 s timeout: one POST, answered late

    def execute(run_id: str) -> dict:
        operator = AvePointOnboardCustomerOperator(
            task_id="onboard", customer_key="SENDING", store=WarehouseStore(table="customer_onboarding")
        )
        return operator.execute({"run_id": run_id, "ti": SimpleNamespace(try_number=1)})

    def answered() -> bool:
        return bool(sandbox.inspect()["creations_per_account"])

    results: dict[str, dict] = {}
    sender = threading.Thread(target=lambda: results.update(a=execute("run-A")), daemon=True)
    sender.start()
    deadline = time.monotonic() + 30
    while sandbox.inspect()["requests"]["onboard"] < 1:
        assert time.monotonic() < deadline, "run A's POST never reached the sandbox"
        time.sleep(0.05)
    ((heartbeat,),) = run_sql(warehouse, f"SELECT claimed_at FROM {warehouse.table}")
    assert heartbeat > minute_ago, "begin_attempt did not refresh the claim before sending"
    # A is mid-send; its heartbeat now older than the configured timeout, as if AvePoint were slow.
    run_sql(warehouse, f"UPDATE {warehouse.table} SET claimed_at = :t",
            {"t": heartbeat - 2 * configured})  # fmt: skip
    assert not answered(), "precondition: run A must still be waiting for AvePoint when run B claims"

    taken = warehouse.claim(
        run_id="run-B", interval_end=end, limit=10, claim_timeout=effective_claim_timeout(configured, hook)
    )
    assert not answered(), "precondition: run B claimed after AvePoint had answered run A (machine too slow)"
    if taken:  # what run B's mapped task would do with the row it took
        execute("run-B")
    sender.join(timeout=30)

    assert not sender.is_alive()
    assert taken == []
    assert results["a"]["status"] == "onboarded"
    state = warehouse.row_state("SENDING")
    assert (state["status"], state["claimed_by"]) == ("onboarded", "run-A")
    inspect = sandbox.inspect()
    assert inspect["posts_per_account"] == {account: 1}
    assert inspect["creations_per_account"] == {account: 1}
