"""The /_sandbox control API, inspection counters and the state file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from avepoint_sandbox import SandboxControl, SandboxControlError, SandboxServer
from tests.sandbox.helpers import Api, customer_body, request_token

pytestmark = pytest.mark.integration


def test_health_and_context_manager() -> None:
    from avepoint_sandbox import SandboxConfig

    with SandboxServer(SandboxConfig()) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.token_url == server.url + "/connect/token"
        control = SandboxControl(server.url)
        control.wait_until_up(timeout=2)
        assert control.health() == {"ok": True}
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/_sandbox/health", timeout=1)


def test_wait_until_up_times_out() -> None:
    with pytest.raises(TimeoutError):
        SandboxControl("http://127.0.0.1:9").wait_until_up(timeout=0.2)


def test_fault_settings_round_trip(control: SandboxControl) -> None:
    assert control.get_faults()["error_rate_500"] == 0.0
    merged = control.set_faults(error_rate_500=0.25, apply_to=["onboard", "list"])
    assert merged["error_rate_500"] == 0.25
    assert merged["apply_to"] == ["onboard", "list"]
    assert control.set_faults(latency_ms=10)["error_rate_500"] == 0.25  # partial update keeps the rest
    cleared = control.clear_faults()
    assert cleared["error_rate_500"] == 0.0
    assert cleared["apply_to"] == ["onboard"]


@pytest.mark.parametrize(
    "settings",
    [
        {"no_such_fault": 1},
        {"error_rate_500": 1.5},
        {"error_rate_503": -0.1},
        {"latency_ms": "slow"},
        {"lost_response_mode": "sometimes"},
        {"malformed_mode": "xml"},
        {"apply_to": ["everything"]},
        {"retry_after": 1.5},
        {"latency_on_token": 1},
    ],
)
def test_bad_fault_settings_are_400_and_change_nothing(control: SandboxControl, settings: dict) -> None:
    with pytest.raises(SandboxControlError) as caught:
        control.set_faults(**settings)
    assert caught.value.status == 400
    assert control.get_faults()["error_rate_500"] == 0.0


def test_revoke_reports_count(control: SandboxControl, sandbox: SandboxServer) -> None:
    Api(sandbox)
    Api(sandbox)
    assert control.revoke() == {"revoked": 2, "client_enabled": True}
    assert control.revoke(disable_client=True) == {"revoked": 0, "client_enabled": False}
    assert control.enable_client() == {"client_enabled": True}


def test_seed_validation(control: SandboxControl) -> None:
    with pytest.raises(SandboxControlError, match="countryCode"):
        control.seed(
            customers=[{"registrationAccount": "a@b.example", "organizationName": "A", "countryCode": "XX"}]
        )
    with pytest.raises(SandboxControlError):
        control.seed(other_partner_accounts=["not-an-email"])
    result = control.seed(
        customers=[{"registrationAccount": "a@b.example", "organizationName": "A", "countryCode": "FR"}] * 2
    )
    assert result == {"seeded": 1, "skipped": 1, "other_partner_accounts": 0}


def test_inspect_counters_for_an_exactly_once_run(sandbox: SandboxServer, control: SandboxControl) -> None:
    api = Api(sandbox)
    token = api.token
    for i in range(3):
        assert api.onboard(customer_body(f"c{i}@once.example")).json()["status"] == 1
    api.onboard(customer_body("partner@sandbox.example"))
    api.list()
    state = control.inspect()
    assert state["posts_per_account"] == {
        "c0@once.example": 1,
        "c1@once.example": 1,
        "c2@once.example": 1,
        "partner@sandbox.example": 1,
    }
    assert state["creations_per_account"] == {f"c{i}@once.example": 1 for i in range(3)}
    assert state["posts_after_creation"] == {}
    assert state["status_counts"] == {"1": 3, "6": 1}
    assert state["requests"] == {"token": 1, "onboard": 4, "list": 1}
    assert state["tokens_issued"] == [token]
    assert state["token_requests"] == 1
    assert state["faults_injected"] == {}
    assert [c["ownerEmail"] for c in state["customers"]] == [f"c{i}@once.example" for i in range(3)]


def test_reset_empties_everything_and_reapplies_startup_seed(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    seed = {
        "customers": [
            {"registrationAccount": "boot@seed.example", "organizationName": "Boot", "countryCode": "JP"}
        ],
        "other_partner_accounts": ["theirs@else.example"],
    }
    server = sandbox_factory(seed=seed)
    control = server.control()
    api = Api(server)
    api.onboard(customer_body("new@x.example"))
    control.set_faults(error_rate_500=0.5)
    control.script("x@y.example", [{"status": 2}])
    control.revoke(disable_client=True)
    control.reset()
    state = control.inspect()
    assert [c["ownerEmail"] for c in state["customers"]] == ["boot@seed.example"]
    assert state["other_partner_accounts"] == ["theirs@else.example"]
    assert state["posts_per_account"] == {}
    assert state["requests"] == {"token": 0, "onboard": 0, "list": 0}
    assert state["tokens_issued"] == []
    assert state["scripts_pending"] == {}
    assert state["client_enabled"] is True
    assert state["faults"]["error_rate_500"] == 0.0
    assert api.onboard(customer_body()).status_code == 401  # tokens are gone
    assert Api(server).onboard(customer_body("theirs@else.example")).json()["status"] == 7


def test_state_file_survives_a_restart(sandbox_factory: Callable[..., SandboxServer], tmp_path: Path) -> None:
    path = tmp_path / "state" / "customers.json"
    first = sandbox_factory(state_file=path)
    created = Api(first).onboard(customer_body("kept@x.example")).json()
    assert path.exists()
    first.stop()
    second = sandbox_factory(state_file=path)
    assert Api(second).onboard(customer_body("KEPT@x.example")).json() == {"id": created["id"], "status": 5}
    assert "password" not in path.read_text().lower()


def test_unknown_control_endpoint_is_404(sandbox: SandboxServer) -> None:
    response = requests.get(sandbox.url + "/_sandbox/nothing", timeout=5)
    assert response.status_code == 404
    assert response.headers["request-id"]


def test_control_requests_are_not_counted(sandbox: SandboxServer, control: SandboxControl) -> None:
    control.health()
    control.get_faults()
    request_token(sandbox)
    assert control.inspect()["requests"] == {"token": 1, "onboard": 0, "list": 0}


def test_keep_alive_connection_is_reused(sandbox: SandboxServer) -> None:
    session = requests.Session()
    first = session.get(sandbox.url + "/_sandbox/health", timeout=5)
    second = session.get(sandbox.url + "/_sandbox/health", timeout=5)
    assert first.headers.get("Connection", "").lower() != "close"
    assert first.headers["Content-Length"] == str(len(first.content))
    assert second.ok
    assert len(session.get_adapter(sandbox.url).poolmanager.pools) == 1
