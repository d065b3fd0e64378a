"""Fault injection: scripted actions, random rates, the token bucket, latency and apply_to."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from avepoint_sandbox import SandboxControl, SandboxControlError, SandboxServer
from tests.sandbox.helpers import Api, customer_body, request_token

pytestmark = pytest.mark.integration

ACCOUNT = "faulty@contoso.example"


def _customers(server: SandboxServer) -> list[dict[str, Any]]:
    return server.state.inspect()["customers"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_scripted_http_errors_are_not_processed(
    sandbox: SandboxServer, control: SandboxControl, api: Api, status: int
) -> None:
    control.script(ACCOUNT, [{"http_status": status}])
    response = api.onboard(customer_body(ACCOUNT))
    assert response.status_code == status
    assert response.headers["request-id"]
    assert _customers(sandbox) == []
    assert api.onboard(customer_body(ACCOUNT)).json()["status"] == 1
    assert sandbox.state.inspect()["faults_injected"] == {str(status): 1}


def test_scripted_429_carries_retry_after(sandbox: SandboxServer, control: SandboxControl, api: Api) -> None:
    control.script(ACCOUNT, [{"http_status": 429, "retry_after": 2}, {"http_status": 429}])
    first = api.onboard(customer_body(ACCOUNT))
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    assert api.onboard(customer_body(ACCOUNT)).headers["Retry-After"] == "1"  # the default retry_after
    assert _customers(sandbox) == []


@pytest.mark.parametrize("status", [2, 3, 4])
def test_scripted_api_statuses_are_not_processed(
    sandbox: SandboxServer, control: SandboxControl, api: Api, status: int
) -> None:
    control.script(ACCOUNT, [{"status": status}])
    response = api.onboard(customer_body(ACCOUNT))
    assert response.status_code == 200
    assert response.json() == {"id": None, "status": status}
    assert _customers(sandbox) == []


def test_lost_500_creates_exactly_once(sandbox: SandboxServer, control: SandboxControl, api: Api) -> None:
    control.script(ACCOUNT.upper(), [{"lost": "500"}])
    assert api.onboard(customer_body(ACCOUNT)).status_code == 500
    created = _customers(sandbox)
    assert len(created) == 1
    # The naive client re-sends: the sandbox answers 5 and flags the duplicate.
    assert api.onboard(customer_body(ACCOUNT)).json() == {"id": created[0]["id"], "status": 5}
    state = sandbox.state.inspect()
    assert state["creations_per_account"] == {ACCOUNT: 1}
    assert state["posts_after_creation"] == {ACCOUNT: 1}
    assert state["faults_injected"] == {"lost_500": 1}
    assert state["status_counts"] == {"1": 1, "5": 1}


def test_lost_drop_closes_without_answer_but_creates(
    sandbox: SandboxServer, control: SandboxControl, api: Api
) -> None:
    control.script(ACCOUNT, [{"lost": "drop"}])
    with pytest.raises(requests.ConnectionError):
        api.onboard(customer_body(ACCOUNT))
    assert len(_customers(sandbox)) == 1
    # A reconciling client finds it in the list endpoint, over a fresh connection.
    assert api.list().json()["data"][0]["ownerEmail"] == ACCOUNT
    assert sandbox.state.inspect()["posts_after_creation"] == {}


def test_hang_times_out_without_processing(sandbox: SandboxServer, control: SandboxControl, api: Api) -> None:
    control.script(ACCOUNT, [{"hang": 0.5}])
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        api.onboard(customer_body(ACCOUNT), timeout=0.3)
    assert time.monotonic() - started < 0.5
    assert _customers(sandbox) == []
    assert sandbox.state.inspect()["faults_injected"] == {"timeout": 1}
    assert api.onboard(customer_body(ACCOUNT)).json()["status"] == 1


def test_malformed_answers(sandbox: SandboxServer, control: SandboxControl, api: Api) -> None:
    control.script("html@x.example", [{"malformed": "html"}])
    control.script("cut@x.example", [{"malformed": "truncated"}])
    control.script("odd@x.example", [{"malformed": "status42"}])

    html = api.onboard(customer_body("html@x.example"))
    assert html.status_code == 200
    assert html.headers["Content-Type"].startswith("text/html")
    truncated = api.onboard(customer_body("cut@x.example"))
    assert truncated.status_code == 200
    assert truncated.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.text)
    odd = api.onboard(customer_body("odd@x.example"))
    assert odd.json() == {"id": None, "status": 42}
    # html and truncated answers come after processing; status42 replaces it.
    assert sorted(c["ownerEmail"] for c in _customers(sandbox)) == ["cut@x.example", "html@x.example"]
    assert sandbox.state.inspect()["faults_injected"] == {
        "malformed_html": 1,
        "malformed_truncated": 1,
        "malformed_status42": 1,
    }


def test_script_queue_is_consumed_in_order(sandbox: SandboxServer, control: SandboxControl, api: Api) -> None:
    result = control.script(ACCOUNT, [{"http_status": 503}, {"status": 2}])
    assert result == {"account": ACCOUNT, "pending": 2}
    assert sandbox.state.inspect()["scripts_pending"] == {ACCOUNT: 2}
    # Other accounts are untouched by this queue.
    assert api.onboard(customer_body("other@x.example")).json()["status"] == 1
    assert api.onboard(customer_body(ACCOUNT)).status_code == 503
    assert api.onboard(customer_body(ACCOUNT)).json()["status"] == 2
    assert api.onboard(customer_body(ACCOUNT)).json()["status"] == 1
    assert sandbox.state.inspect()["scripts_pending"] == {}


def test_scripts_take_precedence_over_random_faults(control: SandboxControl, api: Api) -> None:
    control.set_faults(error_rate_500=1.0)
    control.script(ACCOUNT, [{"status": 3}])
    assert api.onboard(customer_body(ACCOUNT)).json()["status"] == 3
    assert api.onboard(customer_body(ACCOUNT)).status_code == 500


@pytest.mark.parametrize(
    "action",
    [{"http_status": 418}, {"status": 1}, {"lost": "maybe"}, {"hang": -1}, {"malformed": "xml"}, {}, "500"]
    + [{"status": 2, "hang": 1}, {"http_status": 500, "retry_after": 3}],
)
def test_invalid_script_actions_are_refused(control: SandboxControl, action: Any) -> None:
    with pytest.raises(SandboxControlError) as caught:
        control.script(ACCOUNT, [action])
    assert caught.value.status == 400


RATE_CASES: list[tuple[dict[str, Any], Callable[[requests.Response], bool], str]] = [
    ({"error_rate_500": 1.0}, lambda r: r.status_code == 500, "500"),
    ({"error_rate_503": 1.0}, lambda r: r.status_code == 503 and "Retry-After" not in r.headers, "503"),
    (
        {"rate_429": 1.0, "retry_after": 3},
        lambda r: r.status_code == 429 and r.headers["Retry-After"] == "3",
        "429",
    ),
    ({"lost_response_rate": 1.0}, lambda r: r.status_code == 500, "lost_500"),
    (
        {"malformed_rate": 1.0, "malformed_mode": "status42"},
        lambda r: r.json()["status"] == 42,
        "malformed_status42",
    ),
    ({"malformed_rate": 1.0}, lambda r: r.headers["Content-Type"].startswith("text/html"), "malformed_html"),
]


@pytest.mark.parametrize(("settings", "fired", "label"), RATE_CASES, ids=[c[2] for c in RATE_CASES])
def test_rate_one_always_fires_and_zero_never(
    sandbox: SandboxServer,
    control: SandboxControl,
    api: Api,
    settings: dict[str, Any],
    fired: Callable[[requests.Response], bool],
    label: str,
) -> None:
    control.set_faults(**settings)
    for i in range(5):
        assert fired(api.onboard(customer_body(f"on{i}@rates.example")))
    assert sandbox.state.inspect()["faults_injected"] == {label: 5}
    control.set_faults(**{name: 0.0 for name in settings if "rate" in name})
    for i in range(10):
        assert api.onboard(customer_body(f"off{i}@rates.example")).json()["status"] == 1
    assert sandbox.state.inspect()["faults_injected"] == {label: 5}


def test_timeout_rate_one_always_hangs(sandbox: SandboxServer, control: SandboxControl, api: Api) -> None:
    control.set_faults(timeout_rate=1.0, hang_seconds=0.3)
    for _ in range(2):
        with pytest.raises(requests.ReadTimeout):
            api.onboard(customer_body(ACCOUNT), timeout=0.15)
    assert _customers(sandbox) == []


def test_lost_drop_rate_one(sandbox: SandboxServer, control: SandboxControl, api: Api) -> None:
    control.set_faults(lost_response_rate=1.0, lost_response_mode="drop")
    with pytest.raises(requests.ConnectionError):
        api.onboard(customer_body(ACCOUNT))
    assert len(_customers(sandbox)) == 1


def _outcomes(server: SandboxServer, n: int) -> list[str]:
    api = Api(server)
    outcomes = []
    for i in range(n):
        try:
            response = api.onboard(customer_body(f"u{i}@seeded.example"))
        except requests.ConnectionError:
            outcomes.append("dropped")
            continue
        try:
            status = response.json().get("status")
        except ValueError:
            status = "unparseable"
        outcomes.append(f"{response.status_code}:{response.headers['Content-Type']}:{status}")
    return outcomes


def test_random_faults_are_deterministic_with_a_seed(sandbox_factory: Callable[..., SandboxServer]) -> None:
    from avepoint_sandbox import FaultSettings

    faults = FaultSettings(
        error_rate_500=0.2,
        rate_429=0.1,
        lost_response_rate=0.2,
        lost_response_mode="mixed",
        malformed_rate=0.3,
        malformed_mode="mixed",
    )
    first = _outcomes(sandbox_factory(random_seed=42, faults=faults), 40)
    second = _outcomes(sandbox_factory(random_seed=42, faults=faults), 40)
    assert first == second
    assert len({o.split(":")[0] for o in first}) >= 3  # a mix of outcomes, not one repeated answer


def test_list_faults_only_with_apply_to_and_never_create(
    sandbox: SandboxServer, control: SandboxControl, api: Api
) -> None:
    control.set_faults(error_rate_503=1.0)
    assert api.list().status_code == 200  # onboard-only by default
    control.set_faults(error_rate_503=0.0, lost_response_rate=1.0, apply_to=["onboard", "list"])
    assert api.list().status_code == 500
    control.set_faults(
        lost_response_rate=0.0, malformed_rate=1.0, malformed_mode="truncated", apply_to=["list"]
    )
    assert api.list().status_code == 200
    assert _customers(sandbox) == []
    assert api.onboard(customer_body(ACCOUNT)).json()["status"] == 1


def test_token_endpoint_faults_when_applied(sandbox: SandboxServer, control: SandboxControl) -> None:
    control.set_faults(error_rate_503=1.0, apply_to=["token"])
    assert request_token(sandbox).status_code == 503
    assert sandbox.state.inspect()["tokens_issued"] == []


class FrozenClock:
    """The sandbox state's ``time.monotonic``, moved only by the test (the token bucket reads it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return time.time()


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    import avepoint_sandbox.state

    frozen = FrozenClock()
    monkeypatch.setattr(avepoint_sandbox.state, "time", frozen)
    return frozen


def test_token_bucket_answers_429_with_computed_retry_after(
    sandbox: SandboxServer, control: SandboxControl, api: Api, clock: FrozenClock
) -> None:
    control.set_faults(rate_limit_per_second=0.5, rate_limit_burst=2)
    assert api.onboard(customer_body("a@bucket.example")).status_code == 200
    assert api.onboard(customer_body("b@bucket.example")).status_code == 200
    limited = api.onboard(customer_body("c@bucket.example"))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"  # one token at 0.5/s takes 2 s
    assert sandbox.state.inspect()["faults_injected"] == {"rate_limited": 1}

    control.set_faults(rate_limit_per_second=20, rate_limit_burst=1)
    assert api.onboard(customer_body("d@bucket.example")).status_code == 200
    clock.now += 0.04  # the next token is due 0.05 s after the last
    again = api.onboard(customer_body("e@bucket.example"))
    assert again.status_code == 429
    assert again.headers["Retry-After"] == "1"
    clock.now += 0.02
    assert api.onboard(customer_body("e@bucket.example")).status_code == 200
    assert {c["ownerEmail"] for c in _customers(sandbox)} == {
        "a@bucket.example",
        "b@bucket.example",
        "d@bucket.example",
        "e@bucket.example",
    }


def test_latency_applies_to_graph_calls_not_tokens(
    sandbox: SandboxServer, control: SandboxControl, api: Api, monkeypatch
) -> None:
    """What the sandbox plans to wait per request is recorded; only the graph call's wait is timed,
    from below (a loaded machine can only make it longer).
    """
    planned: list[tuple[str, float]] = []
    plan = sandbox.state.plan

    def recording_plan(endpoint: str):
        result = plan(endpoint)
        planned.append((endpoint, result.delay_seconds))
        return result

    monkeypatch.setattr(sandbox.state, "plan", recording_plan)
    control.set_faults(latency_ms=200)
    started = time.monotonic()
    assert api.list().status_code == 200
    assert time.monotonic() - started >= 0.2
    assert request_token(sandbox).status_code == 200
    assert ("list", 0.2) in planned and ("token", 0.0) in planned
    assert all(delay == 0.0 for endpoint, delay in planned if endpoint == "token")

    planned.clear()
    control.set_faults(latency_ms=0, jitter_ms=100, latency_on_token=True)
    for _ in range(3):
        assert request_token(sandbox).status_code == 200
    delays = [delay for endpoint, delay in planned if endpoint == "token"]
    assert len(delays) == 3 and all(0.0 <= d <= 0.1 for d in delays) and any(d > 0 for d in delays)
