"""AvePointHook's calls: retries, reconciliation after ambiguous failures, tokens, listing, errors,
logging and the HttpHook request methods it inherits. The HTTP layer is faked in-process; tests
marked ``integration`` run against the real sandbox server."""

from __future__ import annotations

import dataclasses
import html
import json
import math
import time

import pytest
import requests

from avepoint_provider.customer import Customer
from avepoint_provider.errors import (
    AvePointAuthError,
    AvePointBadRequestError,
    AvePointConfigError,
    AvePointError,
    AvePointMalformedResponseError,
    AvePointNotFoundError,
    AvePointRateLimitedError,
    AvePointTransientError,
)
from avepoint_provider.hooks.avepoint import AvePointHook
from avepoint_provider.retry import RetryPolicy
from avepoint_sandbox import SandboxConfig, SandboxServer
from tests.conftest import FAKE_GRAPH, avepoint_connection, set_connection
from tests.support.fake_http import LIST_PATH, ONBOARD_PATH, TOKEN_PATH, Reply, customer_page
from tests.support.reference import EAST_US

PASSWORD = "Customer-Pa55word!"
CUSTOMER = Customer(
    first_name="Ann",
    last_name="Lee",
    organization_name="Contoso",
    registration_account="ann@contoso.example",
    country_code="US",
    data_center="e44bb3ed-f1d8-4055-8c77-c8fd8cd63409",
    password=PASSWORD,
)
CREATED = Reply(body={"id": "cust-1", "status": 1})


def listed(*accounts: str) -> list[dict]:
    return [{"id": f"id-{a}", "ownerEmail": a, "organization": "x"} for a in accounts]


def customer(n: int) -> Customer:
    return Customer(
        first_name="Ann",
        last_name="Lee",
        organization_name=f"Org {n}",
        registration_account=f"user{n}@contoso.example",
        country_code="US",
        data_center=EAST_US,
        password=f"Hook-Pw-{n}-secret",
    )


# -- retry policy: one test per row --------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_and_reconciled_before_resending(fake_avepoint, status):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, Reply(status=status), CREATED)
    fake_avepoint.queue(LIST_PATH, customer_page([], 1, 100))

    result = hook.onboard_customer(CUSTOMER)

    assert result.api_status == 1 and result.customer_id == "cust-1"
    assert len(fake_avepoint.sent_to(ONBOARD_PATH)) == 2
    # The 5xx was ambiguous: the list was checked between the two POSTs.
    paths = [s.path for s in fake_avepoint.sent if s.path != TOKEN_PATH]
    assert paths == [ONBOARD_PATH, LIST_PATH, ONBOARD_PATH]


def test_429_honours_retry_after_without_a_lookup(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, Reply(status=429, headers={"Retry-After": "7"}), CREATED)

    assert hook.onboard_customer(CUSTOMER).api_status == 1
    assert fake_avepoint.waits == [7.0]
    assert fake_avepoint.sent_to(LIST_PATH) == []  # a 429 was not processed: nothing to reconcile


def test_retry_after_is_capped(fake_avepoint):
    hook = fake_avepoint.make_hook(policy=RetryPolicy(retry_after_cap=3))
    fake_avepoint.queue(ONBOARD_PATH, Reply(status=429, headers={"Retry-After": "3600"}), CREATED)
    hook.onboard_customer(CUSTOMER)
    assert fake_avepoint.waits == [3.0]


def test_429_without_retry_after_backs_off_exponentially_with_jitter(fake_avepoint):
    policy = RetryPolicy(max_attempts=5, initial_backoff=1, max_backoff=100)
    hook = fake_avepoint.make_hook(policy=policy)
    fake_avepoint.queue(ONBOARD_PATH, *[Reply(status=429)] * 4, CREATED)
    hook.onboard_customer(CUSTOMER)
    waits = fake_avepoint.waits
    assert len(waits) == 4
    for n, wait in enumerate(waits):  # initial * 2**n plus up to `initial` of jitter
        assert 2**n <= wait <= 2**n + 1


@pytest.mark.parametrize(
    ("failure", "lookups"),
    [
        # Only a failure after the request may have been sent needs a lookup.
        (requests.ConnectTimeout("connect"), 0),
        (requests.ReadTimeout("read"), 1),
        (requests.ConnectionError("reset"), 1),
    ],
    ids=["connect-timeout", "read-timeout", "connection-error"],
)
def test_transport_failures_are_retried(fake_avepoint, failure, lookups):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, failure, CREATED)
    fake_avepoint.queue(LIST_PATH, customer_page([], 1, 100))
    assert hook.onboard_customer(CUSTOMER).api_status == 1
    assert len(fake_avepoint.sent_to(LIST_PATH)) == lookups


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, AvePointBadRequestError), (403, AvePointAuthError), (404, AvePointNotFoundError)],
)
def test_client_errors_are_never_retried(fake_avepoint, status, error):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, Reply(status=status, body={"field": "countryCode"}), CREATED)
    with pytest.raises(error) as raised:
        hook.onboard_customer(CUSTOMER)
    assert raised.value.http_status == status and raised.value.request_id == "req-123"
    assert len(fake_avepoint.sent_to(ONBOARD_PATH)) == 1
    assert fake_avepoint.waits == []


def test_401_refreshes_the_token_once_and_retries_once(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, Reply(status=401), CREATED)
    assert hook.onboard_customer(CUSTOMER).api_status == 1
    posts = fake_avepoint.sent_to(ONBOARD_PATH)
    assert [p.headers["Authorization"] for p in posts] == [
        "Bearer token-1-abcdefgh",
        "Bearer token-2-abcdefgh",
    ]


def test_401_after_the_refresh_is_an_auth_error_and_not_retried(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, Reply(status=401), Reply(status=401), CREATED)
    with pytest.raises(AvePointAuthError, match="refused even after renewing"):
        hook.onboard_customer(CUSTOMER)
    assert len(fake_avepoint.sent_to(ONBOARD_PATH)) == 2
    assert len(fake_avepoint.sent_to(TOKEN_PATH)) == 2


def test_attempts_are_bounded(fake_avepoint):
    hook = fake_avepoint.make_hook(policy=RetryPolicy(max_attempts=3, initial_backoff=0.01))
    fake_avepoint.queue(ONBOARD_PATH, *[Reply(status=503)] * 5)
    fake_avepoint.queue(LIST_PATH, *[customer_page([], 1, 100)] * 5)
    with pytest.raises(AvePointTransientError, match="server error") as raised:
        hook.onboard_customer(CUSTOMER)
    assert raised.value.http_status == 503
    assert len(fake_avepoint.sent_to(ONBOARD_PATH)) == 3


def test_total_retry_time_is_bounded(fake_avepoint, monkeypatch):
    # Waits of 10 s against a 15 s budget: a second wait would end past the budget.
    hook = fake_avepoint.make_hook(policy=RetryPolicy(max_attempts=10, max_elapsed=15))
    fake_avepoint.queue(ONBOARD_PATH, *[Reply(status=429, headers={"Retry-After": "10"})] * 10)
    clock = [0.0]
    monkeypatch.setattr("time.monotonic", lambda: clock[0])
    monkeypatch.setattr("avepoint_provider.retry.time.sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    with pytest.raises(AvePointRateLimitedError):
        hook.onboard_customer(CUSTOMER)
    assert len(fake_avepoint.sent_to(ONBOARD_PATH)) == 2
    assert clock[0] == 10.0


def test_policy_is_configurable_from_the_connection(fake_avepoint):
    hook = fake_avepoint.make_hook(
        extra={"retry_max_attempts": 2, "retry_initial_backoff": 0.5, "retry_after_cap": 9, "timeout": 4}
    )
    assert hook.retry_policy == RetryPolicy(max_attempts=2, initial_backoff=0.5, retry_after_cap=9)
    fake_avepoint.queue(ONBOARD_PATH, Reply(status=503), Reply(status=503), CREATED)
    fake_avepoint.queue(LIST_PATH, customer_page([], 1, 100))
    with pytest.raises(AvePointTransientError):
        hook.onboard_customer(CUSTOMER)
    assert all(s.timeout == 4 for s in fake_avepoint.sent)


# -- Retry-After values that are not usable numbers --------------------------------------


def strict_sleep(waits: list[float]):
    """Records waits and refuses what ``time.sleep`` refuses (NaN, negative, overflowing)."""

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"sleep length {seconds!r}")

    return sleep


CAPPED = (3.0, 3.0)  # the policy's retry_after_cap below
BACKOFF = (0.5, 1.0)  # its exponential backoff: 0.5 s plus up to 0.5 s of jitter


@pytest.mark.parametrize(
    ("header", "bounds"),
    [
        ("nan", BACKOFF),
        ("-nan", BACKOFF),
        ("-5", BACKOFF),
        ("-inf", BACKOFF),
        ("inf", CAPPED),
        ("1e400", CAPPED),
        ("99999999999999999999999", CAPPED),
        ("Fri, 31 Dec 9999 23:59:59 GMT", CAPPED),
        ("Mon, 99 Foo 2020 99:99:99 GMT", BACKOFF),
        ("soon", BACKOFF),
    ],
)
def test_retry_after_that_is_not_a_usable_number_is_absent_or_capped(
    fake_avepoint, monkeypatch, header, bounds
):
    hook = fake_avepoint.make_hook(
        policy=RetryPolicy(initial_backoff=0.5, max_backoff=0.5, retry_after_cap=3)
    )
    waits: list[float] = []
    monkeypatch.setattr("avepoint_provider.retry.time.sleep", strict_sleep(waits))
    fake_avepoint.queue(ONBOARD_PATH, Reply(status=429, headers={"Retry-After": header}), CREATED)
    assert hook.onboard_customer(CUSTOMER).api_status == 1
    (wait,) = waits
    assert bounds[0] <= wait <= bounds[1]


# -- ambiguous failures: never POST twice what may exist ---------------------------------------


def test_lost_response_is_found_in_the_list_and_not_posted_again(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, requests.ReadTimeout("lost"), CREATED)
    fake_avepoint.queue(LIST_PATH, customer_page(listed("other@x.example", "ANN@contoso.example"), 1, 100))

    result = hook.onboard_customer(CUSTOMER)

    assert result.found_by_lookup and result.customer_id == "id-ANN@contoso.example"
    assert len(fake_avepoint.sent_to(ONBOARD_PATH)) == 1
    assert result.requests_made == 3  # token, POST, one page


def test_an_error_after_an_ambiguous_post_says_the_post_may_have_reached(fake_avepoint):
    hook = fake_avepoint.make_hook(policy=RetryPolicy(max_attempts=2))
    fake_avepoint.queue(ONBOARD_PATH, requests.ReadTimeout("lost"))
    fake_avepoint.queue(LIST_PATH, Reply(status=403))
    with pytest.raises(AvePointAuthError) as raised:
        hook.onboard_customer(CUSTOMER)
    assert (raised.value.may_have_reached, raised.value.requests_made) == (True, 3)


def test_an_error_before_any_post_was_answered_says_nothing_reached(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, Reply(status=429), Reply(status=403))
    with pytest.raises(AvePointAuthError) as raised:
        hook.onboard_customer(CUSTOMER)
    assert (raised.value.may_have_reached, raised.value.requests_made) == (False, 3)


def test_the_hook_keeps_no_per_call_counters(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, CREATED, CREATED)
    assert hook.onboard_customer(CUSTOMER).requests_made == 2  # token and POST
    assert hook.onboard_customer(CUSTOMER).requests_made == 1  # the token is cached
    assert not hasattr(hook, "requests_made") and not hasattr(hook, "onboarding_may_have_reached")


def test_check_existing_first_looks_up_before_the_first_post(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(LIST_PATH, customer_page([], 1, 100))
    fake_avepoint.queue(ONBOARD_PATH, CREATED)
    hook.onboard_customer(CUSTOMER, check_existing_first=True)
    paths = [s.path for s in fake_avepoint.sent if s.path != TOKEN_PATH]
    assert paths == [LIST_PATH, ONBOARD_PATH]


def test_malformed_reply_is_a_transient_ambiguous_error(fake_avepoint):
    hook = fake_avepoint.make_hook(policy=RetryPolicy(max_attempts=1))
    fake_avepoint.queue(
        ONBOARD_PATH, Reply(raw=b"<html>Bad gateway</html>", headers={"Content-Type": "text/html"})
    )
    with pytest.raises(AvePointMalformedResponseError, match="not a JSON object") as raised:
        hook.onboard_customer(CUSTOMER)
    assert raised.value.ambiguous and raised.value.retryable


@pytest.mark.integration
@pytest.mark.parametrize("lost", ["drop", "500"])
def test_a_lost_response_creates_the_customer_exactly_once(sandbox, lost):
    sandbox.script("user1@contoso.example", [{"lost": lost}])
    result = AvePointHook().onboard_customer(customer(1))
    assert result.found_by_lookup
    inspect = sandbox.inspect()
    assert inspect["creations_per_account"] == {"user1@contoso.example": 1}
    assert inspect["posts_per_account"] == {"user1@contoso.example": 1}
    assert result.customer_id == inspect["customers"][0]["id"]


@pytest.mark.integration
def test_a_timeout_is_retried_and_reconciled(sandbox, monkeypatch):
    set_connection(monkeypatch, "avepoint_default", **avepoint_connection(sandbox.server, timeout=0.3))
    sandbox.script("user1@contoso.example", [{"hang": 0.6}])
    result = AvePointHook().onboard_customer(customer(1))
    assert result.api_status == 1 and not result.found_by_lookup
    assert sandbox.inspect()["posts_per_account"] == {"user1@contoso.example": 2}


def test_a_listed_customer_without_an_id_is_not_reported_onboarded(fake_avepoint):
    hook = fake_avepoint.make_hook(policy=RetryPolicy(max_attempts=2))
    fake_avepoint.queue(ONBOARD_PATH, requests.ReadTimeout("lost"), CREATED)
    fake_avepoint.queue(LIST_PATH, customer_page([{"ownerEmail": "ann@contoso.example"}], 1, 100))
    with pytest.raises(AvePointTransientError, match="listed without an id") as raised:
        hook.onboard_customer(CUSTOMER)
    assert not raised.value.ambiguous and raised.value.may_have_reached
    assert len(fake_avepoint.sent_to(ONBOARD_PATH)) == 1  # listed: never POSTed again


def test_a_listed_customer_whose_id_appears_on_a_later_lookup_is_found(fake_avepoint):
    hook = fake_avepoint.make_hook(policy=RetryPolicy(max_attempts=3))
    fake_avepoint.queue(ONBOARD_PATH, requests.ReadTimeout("lost"))
    fake_avepoint.queue(
        LIST_PATH,
        customer_page([{"ownerEmail": "ann@contoso.example"}], 1, 100),
        customer_page(listed("ann@contoso.example"), 1, 100),
    )
    result = hook.onboard_customer(CUSTOMER)
    assert (result.found_by_lookup, result.customer_id) == (True, "id-ann@contoso.example")


@pytest.mark.parametrize(
    ("reply", "listing", "expected"),
    [
        ({"status": 7}, listed("ann@contoso.example"), (True, "id-ann@contoso.example")),
        ({"status": 7}, listed("other@x.example"), (False, None)),
        (
            {"status": 1},
            listed("ann@contoso.example"),
            (True, "id-ann@contoso.example"),
        ),  # no id in the reply
    ],
    ids=["exists-and-listed", "exists-elsewhere", "created-without-an-id"],
)
def test_a_reply_that_does_not_settle_the_customer_is_looked_up_within_the_call(
    fake_avepoint, reply, listing, expected
):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, Reply(body=reply))
    fake_avepoint.queue(LIST_PATH, customer_page(listing, 1, 100))
    result = hook.onboard_customer(CUSTOMER)
    assert (result.api_status, result.found_by_lookup) == (reply["status"], False)
    assert (result.listed, result.customer_id) == expected
    assert result.requests_made == 3  # token, POST, one page


def test_a_settled_reply_is_not_looked_up(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, CREATED)
    result = hook.onboard_customer(CUSTOMER)
    assert (result.listed, result.customer_id) == (None, "cust-1")
    assert fake_avepoint.sent_to(LIST_PATH) == []


# -- tokens ------------------------------------------------------------------------------------


def test_token_is_cached_for_the_hooks_life(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, CREATED, CREATED, CREATED)
    for _ in range(3):
        hook.onboard_customer(CUSTOMER)
    assert len(fake_avepoint.sent_to(TOKEN_PATH)) == 1
    token_request = fake_avepoint.sent_to(TOKEN_PATH)[0].form()
    assert token_request == {
        "grant_type": "client_credentials",
        "client_id": "client-id-1",
        "client_secret": "client-secret-value-1",
        "scope": "elements.customers.readwrite.all elements.customers.read.all",
    }


def test_token_is_renewed_shortly_before_it_expires(fake_avepoint, monkeypatch):
    hook = fake_avepoint.make_hook()
    clock = [1000.0]
    monkeypatch.setattr("avepoint_provider.hooks.avepoint.time.monotonic", lambda: clock[0])
    first = hook.get_token()
    clock[0] += 3600 - 61  # still outside the 60 s renewal margin
    assert hook.get_token() == first
    clock[0] += 2  # inside the margin
    assert hook.get_token() != first
    assert len(fake_avepoint.sent_to(TOKEN_PATH)) == 2


def test_refused_credentials_are_an_auth_error_naming_the_oauth_error(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(TOKEN_PATH, Reply(status=401, body={"error": "invalid_client"}))
    with pytest.raises(AvePointAuthError, match="invalid_client") as raised:
        hook.get_token()
    assert "client-secret-value-1" not in str(raised.value)


@pytest.mark.parametrize("lifetime", ["nan", "inf", -60, 0])
def test_a_token_lifetime_that_is_not_a_usable_number_means_the_documented_hour(
    fake_avepoint, monkeypatch, lifetime
):
    hook = fake_avepoint.make_hook()
    clock = [1000.0]
    monkeypatch.setattr("avepoint_provider.hooks.avepoint.time.monotonic", lambda: clock[0])
    fake_avepoint.queue(
        TOKEN_PATH, Reply(body={"access_token": "odd-lifetime-token", "expires_in": lifetime})
    )
    assert hook.get_token() == "odd-lifetime-token"
    clock[0] += 3600 - 61
    assert hook.get_token() == "odd-lifetime-token"
    clock[0] += 2
    assert hook.get_token() != "odd-lifetime-token"


def test_a_private_key_file_is_read_when_the_first_token_is_needed(fake_avepoint, tmp_path, rsa_private_pem):
    key_file = tmp_path / "client.pem"
    hook = fake_avepoint.make_hook(password="", extra={"private_key_path": str(key_file)})
    assert hook.settings.auth_method == "certificate"  # the connection is read without the file
    with pytest.raises(AvePointConfigError, match="'private_key_path' is not a readable PEM file"):
        hook.get_token()
    assert fake_avepoint.sent == []
    key_file.write_text(rsa_private_pem)
    hook = fake_avepoint.make_hook(password="", extra={"private_key_path": str(key_file)})
    hook.get_token()
    assert "client_assertion" in fake_avepoint.sent_to(TOKEN_PATH)[0].form()


@pytest.mark.parametrize("source", ["pasted", "file"])
def test_a_private_key_and_each_of_its_lines_are_masked_in_one_message_to_the_supervisor(
    fake_avepoint, tmp_path, rsa_private_pem, monkeypatch, source
):
    """In a task every ``mask_secret`` call is a round trip to the supervisor: one per key, not per line."""
    from types import SimpleNamespace

    from airflow.sdk._shared.secrets_masker import redact
    from airflow.sdk.execution_time import task_runner

    sent = []
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", SimpleNamespace(send=sent.append), raising=False)
    key_file = tmp_path / "client.pem"
    key_file.write_text(rsa_private_pem)
    key = {"private_key": rsa_private_pem} if source == "pasted" else {"private_key_path": str(key_file)}
    fake_avepoint.make_hook(password="", extra=key).get_token()

    lines = [line for line in rsa_private_pem.splitlines() if line and not line.startswith("-----")]
    one_line_each = [m.value for m in sent if m.value in lines]
    all_lines = [m.value for m in sent if isinstance(m.value, list) and set(lines) <= set(m.value)]
    assert (len(one_line_each), len(all_lines)) == (0, 1)
    for line in lines:
        assert redact(f"key line {line} logged") == "key line *** logged"


@pytest.fixture(scope="module")
def cert_sandbox(rsa_public_pem):
    with SandboxServer(SandboxConfig(client_public_key_pem=rsa_public_pem, token_lifetime=3600)) as server:
        yield server


def cert_connection(server, monkeypatch, **extra) -> AvePointHook:
    fields = avepoint_connection(server, **extra)
    fields.pop("password")  # no client secret: the certificate is the credential
    set_connection(monkeypatch, "avepoint_cert", **fields)
    return AvePointHook("avepoint_cert")


@pytest.mark.integration
def test_certificate_auth_end_to_end(cert_sandbox, rsa_private_pem, monkeypatch):
    hook = cert_connection(cert_sandbox, monkeypatch, private_key=rsa_private_pem)
    assert hook.settings.auth_method == "certificate"
    result = hook.onboard_customer(customer(1))
    assert result.api_status == 1
    assert hook.test_connection()[0]


@pytest.mark.integration
def test_certificate_from_a_file_or_pasted_without_line_breaks(
    cert_sandbox, rsa_private_pem, tmp_path, monkeypatch
):
    key_file = tmp_path / "client.pem"
    key_file.write_text(rsa_private_pem)
    assert cert_connection(cert_sandbox, monkeypatch, private_key_path=str(key_file)).test_connection()[0]
    one_line = rsa_private_pem.replace("\n", " ")
    assert cert_connection(cert_sandbox, monkeypatch, private_key=one_line).test_connection()[0]


@pytest.mark.integration
def test_a_wrong_certificate_is_refused(cert_sandbox, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    hook = cert_connection(cert_sandbox, monkeypatch, private_key=other.decode())
    with pytest.raises(
        AvePointAuthError, match="refused the certificate of client 'sandbox-client': invalid_client"
    ):
        hook.get_token()


@pytest.mark.integration
def test_tokens_are_reused_then_renewed_when_they_expire(sandbox, monkeypatch):
    # One clock for the hook and the in-process sandbox: the hour of the token's life passes at once.
    real_monotonic, offset = time.monotonic, [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + offset[0])
    hook = AvePointHook()
    for n in range(3):
        hook.onboard_customer(customer(n))
    assert sandbox.inspect()["token_requests"] == 1
    offset[0] = 3600.0  # the sandbox's default token life
    hook.onboard_customer(customer(9))
    assert sandbox.inspect()["token_requests"] == 2


@pytest.mark.integration
def test_a_revoked_token_is_renewed_once(sandbox):
    hook = AvePointHook()
    hook.onboard_customer(customer(1))
    sandbox.revoke()  # tokens die, the client may get new ones
    assert hook.onboard_customer(customer(2)).api_status == 1
    assert sandbox.inspect()["token_requests"] == 2


# -- listing -----------------------------------------------------------------------------------


def test_list_customers_pages_lazily_at_most_100(fake_avepoint):
    hook = fake_avepoint.make_hook()
    everyone = listed(*[f"user{i}@x.example" for i in range(250)])
    fake_avepoint.queue(LIST_PATH, *[customer_page(everyone, i, 100) for i in (1, 2, 3)])

    customers = hook.list_customers()
    first = next(customers)
    assert first["ownerEmail"] == "user0@x.example"
    assert len(fake_avepoint.sent_to(LIST_PATH)) == 1  # one page fetched so far
    assert len([first, *customers]) == 250
    pages = fake_avepoint.sent_to(LIST_PATH)
    assert [(p.query["pageIndex"], p.query["pageSize"]) for p in pages] == [
        (["1"], ["100"]),
        (["2"], ["100"]),
        (["3"], ["100"]),
    ]
    with pytest.raises(ValueError, match="between 1 and 100"):
        next(hook.list_customers(page_size=101))


def test_find_customer_by_account_is_case_insensitive_and_stops_early(fake_avepoint):
    hook = fake_avepoint.make_hook()
    everyone = listed(*[f"user{i}@x.example" for i in range(250)])
    fake_avepoint.queue(LIST_PATH, *[customer_page(everyone, i, 100) for i in (1, 2, 3)])
    assert hook.find_customer_by_account(" USER150@X.example ")["id"] == "id-user150@x.example"
    assert len(fake_avepoint.sent_to(LIST_PATH)) == 2


@pytest.mark.parametrize(
    ("wanted", "listed_as"),
    [
        ("straße@x.example", "strasse@x.example"),  # equal under casefold(), not under lower()
        ("\u212aelvin@x.example", "kelvin@x.example"),  # KELVIN SIGN lowers to a Latin k
        ("Ä@x.example", "ä@x.example"),  # non-ASCII letters are compared as they are
    ],
)
def test_account_lookup_folds_no_unicode(fake_avepoint, wanted, listed_as):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(LIST_PATH, customer_page(listed(listed_as), 1, 100))
    assert hook.find_customer_by_account(wanted) is None
    assert len(fake_avepoint.sent_to(LIST_PATH)) == 1  # the list was read: no match in it


def test_account_lookup_ignores_ascii_case(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(LIST_PATH, customer_page(listed("Ann.Lee@Contoso.Example"), 1, 100))
    assert hook.find_customer_by_account("ann.lee@CONTOSO.example")["id"] == "id-Ann.Lee@Contoso.Example"


def full_pages(count: int) -> list[Reply]:
    """``count`` pages of 100 customers never listed before, without a ``totalCount``."""
    return [
        Reply(body={"data": listed(*[f"user{p}-{i}@x.example" for i in range(100)])}) for p in range(count)
    ]


def test_a_listing_that_never_ends_stops_at_the_page_limit(fake_avepoint):
    from avepoint_provider.errors import AvePointListingError

    hook = fake_avepoint.make_hook()
    hook.max_list_pages = 3
    fake_avepoint.queue(LIST_PATH, *full_pages(10))
    with pytest.raises(AvePointListingError, match="3 pages") as raised:
        list(hook.list_customers())
    assert not raised.value.retryable
    assert len(fake_avepoint.sent_to(LIST_PATH)) == 3


def test_a_listing_whose_total_ends_it_is_not_paged_past_that_total(fake_avepoint):
    hook = fake_avepoint.make_hook()
    pages = [Reply(body={**page.body, "metadata": {"totalCount": 150}}) for page in full_pages(2)]
    pages[1].body["data"][:70] = pages[0].body["data"][:70]  # 70 repeats: only 130 distinct so far
    fake_avepoint.queue(LIST_PATH, *pages, *full_pages(5))
    assert len(list(hook.list_customers())) == 130
    assert len(fake_avepoint.sent_to(LIST_PATH)) == 2  # two pages of 100 hold the 150 it announced


def test_a_listing_that_repeats_itself_yields_nobody_twice_and_stops(fake_avepoint):
    from avepoint_provider.errors import AvePointListingError

    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(LIST_PATH, *full_pages(1) * 10)  # a server that ignores pageIndex
    seen = []
    with pytest.raises(AvePointListingError, match="repeat"):
        for listed_customer in hook.list_customers():
            seen.append(listed_customer["id"])
    assert len(seen) == len(set(seen)) == 100
    assert len(fake_avepoint.sent_to(LIST_PATH)) == 2  # the second page brought nobody new


@pytest.mark.integration
def test_list_customers_pages_through_the_sandbox(sandbox):
    sandbox.seed(
        customers=[
            {
                "registrationAccount": f"seed{n}@x.example",
                "organizationName": f"Seed {n}",
                "countryCode": "DE",
            }
            for n in range(230)
        ]
    )
    hook = AvePointHook()
    customers = list(hook.list_customers())
    assert len(customers) == 230 and customers[0]["countryOrRegion"] == "Germany"
    assert sandbox.inspect()["requests"]["list"] == 3
    assert hook.find_customer_by_account("SEED229@x.example")["organization"] == "Seed 229"


# -- errors: typed, and never a secret ---------------------------------------------------------


def test_no_secret_in_any_error_message(fake_avepoint):
    hook = fake_avepoint.make_hook(policy=RetryPolicy(max_attempts=1))
    echoing_400 = Reply(
        status=400,
        body={"field": "password", "message": f"password {PASSWORD} is too weak for ann@contoso.example"},
    )
    fake_avepoint.queue(
        ONBOARD_PATH, echoing_400, Reply(status=503, body={"echo": PASSWORD}), Reply(status=403)
    )
    errors = []
    for _ in range(3):
        with pytest.raises(Exception) as raised:
            hook.onboard_customer(CUSTOMER)
        errors.append(str(raised.value))
    token = fake_avepoint.tokens_issued[0]
    for message in errors:
        for secret in (PASSWORD, "client-secret-value-1", token, "ann@contoso.example"):
            assert secret not in message
    assert errors[0].startswith(
        "AvePoint POST /partner/external/v3/general/customers: invalid parameters (password:"
    )


def test_secrets_are_registered_with_the_masker(fake_avepoint):
    from airflow.sdk._shared.secrets_masker import redact

    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, CREATED)
    hook.onboard_customer(CUSTOMER)
    token = fake_avepoint.tokens_issued[0]
    text = f"secret client-secret-value-1 token {token} password {PASSWORD}"
    assert redact(text) == "secret *** token *** password ***"


TRICKY_PASSWORD = 'Pa\\ss"w0rd-Tricky'  # a backslash and a quote: JSON escapes both


@pytest.mark.parametrize(
    "message",
    [
        "x" * 290 + " " + TRICKY_PASSWORD,  # the value straddles the 300-character cut
        {"password": TRICKY_PASSWORD, "detail": "too weak"},  # the message is a JSON object
        "invalid body " + json.dumps({"password": TRICKY_PASSWORD}),  # the value JSON-escaped in text
        f"password '{TRICKY_PASSWORD[:10]}...' is too weak",  # a truncated echo
        f"<p>password {html.escape(TRICKY_PASSWORD)} is too weak</p>",  # HTML-escaped
        f"PASSWORD {TRICKY_PASSWORD.upper()} IS TOO WEAK",  # upper-cased
    ],
    ids=[
        "straddling-the-cut",
        "json-object",
        "json-escaped-in-text",
        "prefix",
        "html-escaped",
        "upper-cased",
    ],
)
def test_bad_request_message_is_redacted_before_it_is_cut(fake_avepoint, message):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, Reply(status=400, body={"field": "password", "message": message}))
    with pytest.raises(AvePointBadRequestError) as raised:
        hook.onboard_customer(dataclasses.replace(CUSTOMER, password=TRICKY_PASSWORD))
    text = str(raised.value)
    assert "[redacted" in text  # the cut may shorten the marker itself
    escaped = json.dumps(TRICKY_PASSWORD)[1:-1]
    html_escaped = html.escape(TRICKY_PASSWORD)
    fragments = (TRICKY_PASSWORD[:8], TRICKY_PASSWORD[-8:], escaped[:8], escaped[-8:], html_escaped[:8])
    for fragment in (*fragments, "ss\\", "w0rd"):
        assert fragment.lower() not in text.lower()


def test_an_unforeseen_value_error_handling_the_posts_reply_is_a_typed_ambiguous_error(
    fake_avepoint, monkeypatch
):
    from avepoint_provider.hooks.avepoint import AvePointHook

    def broken(*args, **kwargs):
        raise ValueError("stands in for any bug in reading a reply")

    hook = fake_avepoint.make_hook(policy=RetryPolicy(max_attempts=1))
    hook.get_token()  # the token's reply is read before the fault
    fake_avepoint.queue(ONBOARD_PATH, CREATED)
    monkeypatch.setattr(AvePointHook, "_json_body", staticmethod(broken))
    with pytest.raises(AvePointMalformedResponseError) as raised:
        hook.onboard_customer(CUSTOMER)
    assert raised.value.ambiguous and raised.value.may_have_reached
    assert raised.value.requests_made == 1


def test_an_unforeseen_value_error_elsewhere_keeps_what_the_call_knew(fake_avepoint, monkeypatch):
    def broken(account: str) -> str:
        raise ValueError("stands in for any bug in the lookup")

    hook = fake_avepoint.make_hook(policy=RetryPolicy(max_attempts=2))
    fake_avepoint.queue(ONBOARD_PATH, requests.ReadTimeout("lost"))
    fake_avepoint.queue(LIST_PATH, customer_page(listed("ann@contoso.example"), 1, 100))
    monkeypatch.setattr("avepoint_provider.hooks.avepoint.account_key", broken)
    with pytest.raises(AvePointMalformedResponseError) as raised:
        hook.onboard_customer(CUSTOMER)
    assert raised.value.may_have_reached and not raised.value.ambiguous
    assert raised.value.requests_made == 2  # token, POST; the fault hit before the first page


# -- one onboard_customer call has a time bound ------------------------------------------------


@pytest.fixture
def slow_clock(fake_avepoint, monkeypatch) -> list[float]:
    """A fake clock: every request takes the connection's whole timeout (5 s), sleeps take their time."""
    clock = [0.0]
    monkeypatch.setattr("time.monotonic", lambda: clock[0])
    monkeypatch.setattr("avepoint_provider.retry.time.sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    fake_avepoint.before_reply = lambda: clock.__setitem__(0, clock[0] + 5)
    return clock


def run(call):
    """The call's result, or the AvePoint error it raised."""
    from avepoint_provider.errors import AvePointError

    try:
        return call()
    except AvePointError as exc:
        return exc


def test_the_lookup_after_an_ambiguous_failure_is_bounded_in_time(fake_avepoint, slow_clock):
    hook = fake_avepoint.make_hook()  # the default policy: 120 s of retries, 60 s of lookups
    everyone = listed(*[f"user{i}@x.example" for i in range(20_000)])
    fake_avepoint.queue(ONBOARD_PATH, requests.ReadTimeout("lost"), CREATED)
    fake_avepoint.queue(LIST_PATH, *[customer_page(everyone, i, 100) for i in range(1, 201)])

    outcome = run(lambda: hook.onboard_customer(CUSTOMER))

    assert slow_clock[0] <= 120 + 60 + 2 * 5  # retries, lookups, one last request's connect + read
    assert isinstance(outcome, AvePointTransientError) and "did not finish within" in str(outcome)
    assert not outcome.retryable and not outcome.ambiguous and outcome.may_have_reached
    assert len(fake_avepoint.sent_to(ONBOARD_PATH)) == 1  # the account may exist: not sent again
    assert hook.max_call_seconds() == 120 + 60 + 2 * 5


def test_no_request_starts_after_the_calls_retry_and_lookup_time_are_both_spent(fake_avepoint, slow_clock):
    hook = fake_avepoint.make_hook()  # default policy; each request takes 5 s; jitter is under 1 s
    others = listed(*[f"user{i}@x.example" for i in range(1200)])
    fake_avepoint.queue(
        ONBOARD_PATH,
        Reply(status=429, headers={"Retry-After": "55"}),  # ends at 10 s, sleeps to 65 s
        Reply(status=429, headers={"Retry-After": "40"}),  # ends at 70 s, sleeps to 110 s
        requests.ReadTimeout("lost"),  # ends at 115 s: the next attempt looks up first
        Reply(status=401),  # after 12 pages of lookup (60 s): answered at 181-182 s
        Reply(status=401),
    )
    fake_avepoint.queue(LIST_PATH, *[customer_page(others, i, 100) for i in range(1, 13)])

    outcome = run(lambda: hook.onboard_customer(CUSTOMER))

    # Without the call's deadline the token renewal and a second POST would follow, to ~192 s.
    assert slow_clock[0] <= hook.max_call_seconds() == 190
    assert isinstance(outcome, AvePointTransientError) and "time bound" in str(outcome)
    assert not outcome.retryable and outcome.may_have_reached
    assert len(fake_avepoint.sent_to(TOKEN_PATH)) == 1


def test_the_lookup_after_a_reply_counts_in_the_calls_time_bound(fake_avepoint, slow_clock):
    hook = fake_avepoint.make_hook()
    everyone = listed(*[f"user{i}@x.example" for i in range(20_000)])
    fake_avepoint.queue(ONBOARD_PATH, Reply(body={"status": 7}))
    fake_avepoint.queue(LIST_PATH, *[customer_page(everyone, i, 100) for i in range(1, 201)])

    outcome = run(lambda: hook.onboard_customer(CUSTOMER))

    assert isinstance(outcome, AvePointTransientError) and "did not finish within" in str(outcome)
    assert slow_clock[0] <= hook.max_call_seconds()
    assert outcome.may_have_reached and not outcome.retryable


# -- the request methods inherited from HttpHook -------------------------------------------------


def test_run_sends_an_authenticated_request_with_the_connections_timeout(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(LIST_PATH, customer_page([], 1, 1))
    response = hook.run(LIST_PATH, json={}, params={"pageIndex": 1, "pageSize": 1})
    assert response.json()["data"] == []
    token_request, sent = fake_avepoint.sent
    assert (token_request.path, sent.path, sent.query) == (
        TOKEN_PATH,
        LIST_PATH,
        {"pageIndex": ["1"], "pageSize": ["1"]},
    )
    assert (sent.headers["Authorization"], sent.timeout) == ("Bearer token-1-abcdefgh", 5)


def test_run_raises_typed_errors(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(LIST_PATH, Reply(status=403))
    with pytest.raises(AvePointAuthError, match="access refused"):
        hook.run(LIST_PATH, json={})


def test_run_with_advanced_retry_authenticates_every_attempt(fake_avepoint):
    import tenacity

    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(LIST_PATH, Reply(status=503), customer_page([], 1, 1))
    retry_args = {"stop": tenacity.stop_after_attempt(2), "wait": tenacity.wait_none(),
                  "retry": tenacity.retry_if_exception_type(AvePointTransientError)}  # fmt: skip
    assert hook.run_with_advanced_retry(retry_args, LIST_PATH, json={}).status_code == 200
    attempts = fake_avepoint.sent_to(LIST_PATH)
    assert [sent.headers["Authorization"] for sent in attempts] == ["Bearer token-1-abcdefgh"] * 2


def test_run_and_check_adds_the_token_to_a_graph_request_prepared_elsewhere(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(LIST_PATH, customer_page([], 1, 1))
    prepared = requests.Request("POST", f"{FAKE_GRAPH}{LIST_PATH}", json={}).prepare()
    assert hook.run_and_check(hook.get_conn(), prepared, {}).status_code == 200
    (sent,) = fake_avepoint.sent_to(LIST_PATH)
    assert (sent.headers["Authorization"], sent.timeout) == ("Bearer token-1-abcdefgh", 5)


def test_an_auth_type_is_refused_rather_than_ignored():
    with pytest.raises(TypeError, match="auth_type"):
        AvePointHook(auth_type=requests.auth.HTTPBasicAuth)


def test_no_private_method_of_http_hook_is_overridden_or_called(fake_avepoint, monkeypatch):
    from airflow.providers.http.hooks.http import HttpHook

    private = {name for name, value in vars(HttpHook).items()
               if name.startswith("_") and not name.startswith("__") and callable(value)}  # fmt: skip
    assert {"_configure_session_from_auth", "_configure_session_from_extra"} <= private  # the precondition
    assert not private & set(vars(AvePointHook))

    def forbidden(*args, **kwargs):
        raise AssertionError("a private method of HttpHook was called")

    for name in private:
        monkeypatch.setattr(HttpHook, name, forbidden)
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, CREATED)
    fake_avepoint.queue(LIST_PATH, customer_page([], 1, 1), customer_page([], 1, 1))
    assert hook.onboard_customer(CUSTOMER).api_status == 1
    assert hook.run(LIST_PATH, json={}).status_code == 200
    assert hook.test_connection()[0]


# -- logging -----------------------------------------------------------------------------------


def test_no_request_or_response_body_is_logged_at_any_level(fake_avepoint, caplog):
    import logging

    from structlog.testing import capture_logs

    caplog.set_level(logging.DEBUG)  # the standard library's loggers (urllib3, requests)
    hook = fake_avepoint.make_hook(policy=RetryPolicy(max_attempts=2))
    echo = {"message": f"echo-marker {PASSWORD}", "body": CUSTOMER.to_request_body()}
    fake_avepoint.queue(ONBOARD_PATH, Reply(status=503, body=echo), Reply(status=400, body=echo))
    fake_avepoint.queue(LIST_PATH, customer_page([], 1, 100))
    # HttpHook.check_response logs a failed response's text at ERROR; this hook's must not.
    failed = requests.Response()
    failed.status_code, failed._content, failed.url = 500, json.dumps(echo).encode(), FAKE_GRAPH + "/x"
    failed.request = requests.Request("POST", FAKE_GRAPH + "/x").prepare()
    with capture_logs() as hook_logs:  # Airflow's hooks log through structlog
        with pytest.raises(AvePointBadRequestError):
            hook.onboard_customer(CUSTOMER)
        with pytest.raises(AvePointError):
            hook.check_response(failed)

    logged = caplog.text + "\n".join(str(entry) for entry in hook_logs)
    assert "retry 1 of 1" in logged  # the hook's own log lines are captured
    for fragment in ("echo-marker", PASSWORD, "Contoso", "ann@contoso.example"):
        assert fragment not in logged
