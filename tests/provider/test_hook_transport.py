"""The connection's transport extras against real servers: ``verify`` with a sandbox serving TLS,
``proxies`` with a local forward proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from avepoint_provider.customer import Customer
from avepoint_provider.errors import AvePointTransientError
from avepoint_provider.hooks.avepoint import LIST_PATH, ONBOARD_PATH, AvePointHook
from avepoint_sandbox import SandboxConfig, SandboxServer
from avepoint_sandbox.reference import TOKEN_PATH
from tests.conftest import avepoint_connection, set_connection
from tests.sandbox.helpers import self_signed_certificate
from tests.support.http_proxy import ForwardProxy
from tests.support.reference import EAST_US

pytestmark = pytest.mark.integration

ANN = Customer(
    first_name="Ann",
    last_name="Lee",
    organization_name="Contoso",
    registration_account="ann@contoso.example",
    country_code="US",
    data_center=EAST_US,
    password="Transport-Pw-1",
)


@pytest.fixture(autouse=True)
def no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the connection's ``proxies`` may route requests; the machine's proxy variables must not."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_sandbox(certificate: tuple[Path, Path]) -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(tls_cert=certificate[0], tls_key=certificate[1])) as server:
        yield server


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy() as running:
        yield running


def hook_for(server: SandboxServer, monkeypatch: pytest.MonkeyPatch, **extra) -> AvePointHook:
    set_connection(
        monkeypatch, "avepoint_transport", **avepoint_connection(server, retry_max_attempts=1, **extra)
    )
    return AvePointHook("avepoint_transport")


# -- TLS ----------------------------------------------------------------------------------------------


def test_an_untrusted_certificate_is_a_typed_error(tls_sandbox, monkeypatch):
    hook = hook_for(tls_sandbox, monkeypatch)
    with pytest.raises(AvePointTransientError, match="TLS handshake failed") as raised:
        hook.get_token()
    assert not raised.value.ambiguous  # nothing was sent before the handshake failed
    assert hook.test_connection() == (False, str(raised.value))


def test_verify_names_the_ca_bundle_to_trust(tls_sandbox, certificate, monkeypatch):
    # A worker's REQUESTS_CA_BUNDLE (set on this machine) must not override the connection's choice.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    hook = hook_for(tls_sandbox, monkeypatch, verify=str(certificate[0]))
    assert hook.test_connection()[0]
    assert hook.onboard_customer(ANN).api_status == 1


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("verify", [False, "false"])
def test_verify_false_skips_the_check(tls_sandbox, monkeypatch, verify):
    hook = hook_for(tls_sandbox, monkeypatch, verify=verify)
    assert hook.test_connection()[0]


# -- proxies ------------------------------------------------------------------------------------------


def test_every_request_goes_through_the_proxy_when_one_is_set(sandbox, proxy, monkeypatch):
    hook = hook_for(sandbox.server, monkeypatch, proxies={"http": proxy.url})
    # (Not test_connection: it refuses to send the saved secret through a proxy in cleartext.)
    assert list(hook.list_customers(page_size=1)) == []
    assert hook.onboard_customer(ANN).api_status == 1
    base = sandbox.server.url
    assert proxy.forwarded == [
        ("POST", f"{base}{TOKEN_PATH}"),
        ("POST", f"{base}{LIST_PATH}?pageIndex=1&pageSize=1"),
        ("POST", f"{base}{ONBOARD_PATH}"),
    ]
    assert sandbox.inspect()["token_requests"] == 1


def test_no_request_goes_through_the_proxy_without_the_extra(sandbox, proxy, monkeypatch):
    hook = hook_for(sandbox.server, monkeypatch)
    assert list(hook.list_customers(page_size=1)) == []
    assert hook.onboard_customer(ANN).api_status == 1
    assert proxy.forwarded == []


def test_https_goes_through_the_proxy_as_a_connect_tunnel(tls_sandbox, certificate, proxy, monkeypatch):
    hook = hook_for(tls_sandbox, monkeypatch, verify=str(certificate[0]), proxies={"https": proxy.url})
    assert hook.test_connection()[0]
    # One tunnel per connection: the token and Graph URLs share host and port, so the session reuses it.
    assert proxy.forwarded == [("CONNECT", f"127.0.0.1:{tls_sandbox.port}")]
