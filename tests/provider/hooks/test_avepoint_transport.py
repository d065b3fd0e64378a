"""AvePointHook's session and transport: the connection's ``verify``, ``cert`` and ``proxies`` extras
(against a sandbox serving TLS and a local forward proxy, marked ``integration``), and what never
reaches a request (extras as headers, basic auth, ``~/.netrc``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from avepoint_provider.customer import Customer
from avepoint_provider.errors import AvePointTransientError
from avepoint_provider.hooks.avepoint import LIST_PATH, ONBOARD_PATH, AvePointHook
from avepoint_sandbox import SandboxConfig, SandboxServer
from avepoint_sandbox.reference import TOKEN_PATH
from tests.conftest import FAKE_GRAPH, avepoint_connection, set_connection
from tests.sandbox.helpers import self_signed_certificate
from tests.support.fake_http import Reply
from tests.support.http_proxy import ForwardProxy
from tests.support.reference import EAST_US

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


# -- the session -------------------------------------------------------------------------------


def test_session_is_reused(fake_avepoint):
    hook = fake_avepoint.make_hook()
    assert hook.get_conn() is hook.get_conn() is hook.session


def test_extras_never_become_headers_and_the_secret_is_never_basic_auth(fake_avepoint):
    hook = fake_avepoint.make_hook(
        extra={"environment": "commercial", "scope": "elements.customers.read.all"}
    )
    fake_avepoint.queue(ONBOARD_PATH, Reply(body={"id": "cust-1", "status": 1}))
    hook.onboard_customer(ANN)
    for sent in fake_avepoint.sent:
        assert not {"token_url", "environment", "scope", "timeout"} & set(sent.headers)
        assert not sent.headers.get("Authorization", "").startswith("Basic")
    assert hook.get_conn().auth is None


def test_a_netrc_entry_for_the_hosts_never_replaces_the_bearer_token(fake_avepoint, tmp_path, monkeypatch):
    # requests adds basic auth from ~/.netrc for a host when a request brings no auth of its own.
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {urlsplit(FAKE_GRAPH).hostname} login netrc-user password netrc-pass\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(ONBOARD_PATH, Reply(body={"id": "cust-1", "status": 1}))
    assert hook.onboard_customer(ANN).api_status == 1
    token_request, post = fake_avepoint.sent
    assert (token_request.path, post.path) == (TOKEN_PATH, ONBOARD_PATH)
    assert "Authorization" not in token_request.headers
    assert post.headers["Authorization"] == f"Bearer {hook.get_token()}"


@pytest.mark.parametrize(
    ("extra", "verify", "proxies"),
    [
        ({}, True, {}),
        ({"verify": False}, False, {}),
        (
            {"verify": "false", "proxies": '{"https": "http://proxy:3128"}'},
            False,
            {"https": "http://proxy:3128"},
        ),
        ({"verify": "true", "proxies": {"http": "http://proxy:3128"}}, True, {"http": "http://proxy:3128"}),
    ],
)
def test_transport_extras_configure_the_session(fake_avepoint, extra, verify, proxies):
    session = fake_avepoint.make_hook(extra=extra).get_conn()
    assert (session.verify, session.proxies) == (verify, proxies)


def test_a_ca_bundle_and_client_certificate_path_configure_the_session(fake_avepoint, tmp_path):
    ca, cert = tmp_path / "ca.pem", tmp_path / "client.pem"
    ca.write_text("ca")
    cert.write_text("cert")
    session = fake_avepoint.make_hook(extra={"verify": str(ca), "cert": str(cert)}).get_conn()
    assert (session.verify, session.cert) == (str(ca), str(cert))


# -- TLS ---------------------------------------------------------------------------------------


@pytest.mark.integration
def test_an_untrusted_certificate_is_a_typed_error(tls_sandbox, monkeypatch):
    hook = hook_for(tls_sandbox, monkeypatch)
    with pytest.raises(AvePointTransientError, match="TLS handshake failed") as raised:
        hook.get_token()
    assert not raised.value.ambiguous  # nothing was sent before the handshake failed
    assert hook.test_connection() == (False, str(raised.value))


@pytest.mark.integration
def test_verify_names_the_ca_bundle_to_trust(tls_sandbox, certificate, monkeypatch):
    # A worker's REQUESTS_CA_BUNDLE (set on this machine) must not override the connection's choice.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    hook = hook_for(tls_sandbox, monkeypatch, verify=str(certificate[0]))
    assert hook.test_connection()[0]
    assert hook.onboard_customer(ANN).api_status == 1


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("verify", [False, "false"])
def test_verify_false_skips_the_check(tls_sandbox, monkeypatch, verify):
    hook = hook_for(tls_sandbox, monkeypatch, verify=verify)
    assert hook.test_connection()[0]


# -- proxies -----------------------------------------------------------------------------------


@pytest.mark.integration
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


@pytest.mark.integration
def test_no_request_goes_through_the_proxy_without_the_extra(sandbox, proxy, monkeypatch):
    hook = hook_for(sandbox.server, monkeypatch)
    assert list(hook.list_customers(page_size=1)) == []
    assert hook.onboard_customer(ANN).api_status == 1
    assert proxy.forwarded == []


@pytest.mark.integration
def test_https_goes_through_the_proxy_as_a_connect_tunnel(tls_sandbox, certificate, proxy, monkeypatch):
    hook = hook_for(tls_sandbox, monkeypatch, verify=str(certificate[0]), proxies={"https": proxy.url})
    assert hook.test_connection()[0]
    # One tunnel per connection: the token and Graph URLs share host and port, so the session reuses it.
    assert proxy.forwarded == [("CONNECT", f"127.0.0.1:{tls_sandbox.port}")]
