"""AvePointHook.test_connection: the *Test* button must not hand the stored client secret to a
destination the tester chose, nor read files or hold the API server for them.

Airflow's API server (``POST /api/v2/connections/test``) merges the form with the stored
password when host and port are unchanged, but the ``avepoint`` type keeps the secret's
destination in the extras (``token_url``, ``environment``), which the tester controls, and so are
``private_key_path``, ``timeout`` and the retry settings.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from avepoint_provider.errors import AvePointConfigError
from avepoint_provider.hooks.avepoint import AvePointHook
from tests.conftest import FAKE_GRAPH, avepoint_connection, set_connection
from tests.support.fake_http import LIST_PATH, TOKEN_PATH, Reply, customer_page

STORED_SECRET = "stored-client-secret-7f3a9"


class Recorder:
    """An HTTP server on 127.0.0.1 that keeps every request body it receives and answers 400, or
    a 307 redirect (which keeps the method and body) to ``redirect_to``."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.bodies: list[bytes] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                recorder.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                body = b'{"error": "invalid_client"}'
                self.send_response(307 if redirect_to else 400)
                if redirect_to:
                    self.send_header("Location", redirect_to)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def attacker() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.close()


@pytest.fixture(scope="module")
def api_client(airflow_db):
    """Airflow's own API server app, in-process, with connection testing enabled and no login."""
    mp = pytest.MonkeyPatch()
    mp.setenv("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
    mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "test-only-" * 8)  # long enough for HS512
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from airflow.api_fastapi.app import create_app
        from fastapi.testclient import TestClient

        client = TestClient(create_app("core"))
    yield client
    mp.undo()


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore:ProvidersManager.hooks is deprecated")  # Airflow 3.3's own call
def test_the_api_servers_connection_test_never_sends_the_stored_secret_elsewhere(
    api_client, sandbox, attacker, monkeypatch
):
    secret = sandbox.server.config.client_secret
    set_connection(
        monkeypatch,
        "avepoint_victim",
        conn_type="avepoint",
        host=sandbox.server.url,
        login="sandbox-client",
        password=secret,
        extra={"token_url": sandbox.server.token_url},
    )

    def test_with(extra: dict) -> dict:
        # What a user who may test connections but never see their secrets can post: the stored
        # host, so the API server fills in the stored password for "***".
        form = {"connection_id": "avepoint_victim", "conn_type": "avepoint", "host": sandbox.server.url,
                "login": "sandbox-client", "password": "***", "extra": json.dumps(extra)}  # fmt: skip
        response = api_client.post("/api/v2/connections/test", json=form)
        assert response.status_code == 200, response.text
        return response.json()

    # The precondition: the API server merged the stored secret (the sandbox accepts only that).
    assert test_with({"token_url": sandbox.server.token_url})["status"] is True
    sandbox_address = sandbox.server.url.removeprefix("http://")
    for token_url in (
        f"{attacker.url}/connect/token",
        # urlsplit takes the host after the last "@" (the sandbox); requests sends to the attacker.
        f"{attacker.url}\\@{sandbox_address}/connect/token",
    ):
        result = test_with({"token_url": token_url})
        assert attacker.bodies == [], token_url
        assert result["status"] is False and "token URL" in result["message"], result


# -- the rule, through the hook ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"token_url": "http://evil.test/connect/token"},
        {"token_url": "http://avepoint.test:8443/connect/token"},  # the Graph host, another port
        {"token_url": "https://identity.avepointonlineservices.com.evil.test/connect/token"},
        {
            "token_url": "https://identity.avepointonlineservices.com/connect/token",
            "verify": False,
            "proxies": {"https": "http://proxy.evil.test:3128"},
        },  # fmt: skip
        {
            "proxies": {"http": "http://proxy.evil.test:3128"}
        },  # the Graph URL is http: cleartext via the proxy
    ],
    ids=["other-host", "other-port", "lookalike-host", "unverified-tls-via-proxy", "cleartext-via-proxy"],
)
def test_test_connection_sends_no_credentials_to_an_unvetted_destination(fake_avepoint, extra):
    hook = fake_avepoint.make_hook(password=STORED_SECRET, extra=extra)
    evil = type(fake_avepoint)()
    for prefix in ("http://evil.test", "http://avepoint.test:8443", "https://"):
        hook.get_conn().mount(prefix, evil)
    ok, message = hook.test_connection()
    assert not ok
    assert "refused" in message
    assert fake_avepoint.sent == [] and evil.sent == []


@pytest.mark.parametrize(
    "extra",
    [
        {"token_url": f"{FAKE_GRAPH}/connect/token"},  # the Graph URL's own origin
        {"token_url": "https://identity-gov.avepointonlineservices.com/connect/token"},  # documented
        {"token_url": "", "environment": "aos2"},  # the environment's documented endpoint
    ],
    ids=["graph-origin", "documented-endpoint", "environment-default"],
)
def test_test_connection_sends_credentials_to_vetted_destinations(fake_avepoint, extra):
    hook = fake_avepoint.make_hook(password=STORED_SECRET, extra=extra)
    hook.get_conn().mount("https://", fake_avepoint)
    fake_avepoint.queue("/partner/external/v3/general/customers/batch", customer_page([], 1, 1))
    ok, message = hook.test_connection()
    assert ok, message
    assert fake_avepoint.sent_to(TOKEN_PATH)[0].form()["client_secret"] == STORED_SECRET


@pytest.mark.parametrize(
    ("host", "token_url"),
    [
        (FAKE_GRAPH, "http://evil.test\\@avepoint.test/connect/token"),
        (FAKE_GRAPH, "http://user:secret@avepoint.test/connect/token"),
        (FAKE_GRAPH, "http://evil.test\t@avepoint.test/connect/token"),
        (FAKE_GRAPH, "http://avepoint.test /connect/token"),
        (FAKE_GRAPH, "http://avepoint.test/connect/tok\u00e9n"),
        ("http://evil.test\\@avepoint.test", "http://avepoint.test/connect/token"),
    ],
    ids=["backslash", "userinfo", "tab", "space", "non-ascii", "backslash-in-graph-url"],
)
def test_test_connection_refuses_urls_that_parsers_read_differently(fake_avepoint, host, token_url):
    hook = fake_avepoint.make_hook(host=host, password=STORED_SECRET, extra={"token_url": token_url})
    evil = type(fake_avepoint)()
    hook.get_conn().mount("http://evil.test", evil)
    ok, message = hook.test_connection()
    assert not ok
    assert "URL" in message
    assert fake_avepoint.sent == [] and evil.sent == []


@pytest.mark.integration
def test_a_redirect_from_the_token_endpoint_is_not_followed(monkeypatch, attacker):
    redirector = Recorder(redirect_to=f"{attacker.url}/connect/token")
    try:
        # The token URL is on the Graph URL's origin, so Test Connection may send the secret there.
        set_connection(monkeypatch, "avepoint_redirected", conn_type="avepoint", host=redirector.url,
                       login="client-id-1", password=STORED_SECRET,
                       extra={"token_url": f"{redirector.url}/connect/token", "retry_max_attempts": 1})  # fmt: skip
        ok, message = AvePointHook("avepoint_redirected").test_connection()
        with pytest.raises(AvePointConfigError, match="redirect"):
            AvePointHook("avepoint_redirected").get_token()
    finally:
        redirector.close()
    assert len(redirector.bodies) == 2  # the precondition: both requests reached the redirecting endpoint
    assert attacker.bodies == []
    assert not ok and "redirect" in message


# -- what Test Connection may cost: no file oracle, no long wait -------------------------------------


def test_test_connection_checks_the_destination_before_reading_the_key_file(fake_avepoint, tmp_path):
    hook = fake_avepoint.make_hook(
        password="",
        extra={"token_url": "http://evil.test/connect/token", "private_key_path": str(tmp_path / "no.pem")},
    )
    ok, message = hook.test_connection()
    assert not ok and message.startswith("Test refused: the token URL")


def test_test_connection_reads_only_a_small_regular_key_file_and_never_says_whether_it_exists(
    fake_avepoint, tmp_path, rsa_private_pem
):
    oversized = tmp_path / "oversized.pem"
    oversized.write_text(rsa_private_pem + "#" * 64 * 1024)  # a usable key, but past 64 KiB
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a key")
    paths = {
        "missing": tmp_path / "missing.pem",
        "directory": tmp_path,
        "device": "/dev/null",
        "oversized": oversized,
        "not-pem": not_pem,
    }
    messages = {}
    for kind, path in paths.items():
        hook = fake_avepoint.make_hook(password="", extra={"private_key_path": str(path)})
        ok, messages[kind] = hook.test_connection()
        assert not ok, kind
    assert fake_avepoint.sent == []
    (message,) = set(messages.values())  # one message, whatever is (or is not) at the path
    assert "private_key_path" in message
    assert not {"exist", "no such", "directory", "device", "not pem"} & set(message.lower().split())


def test_test_connection_waits_at_most_10_s_per_request_and_never_retries(fake_avepoint):
    hook = fake_avepoint.make_hook(extra={"timeout": 60, "retry_max_attempts": 5})
    fake_avepoint.queue(LIST_PATH, Reply(status=503), customer_page([], 1, 1))
    ok, message = hook.test_connection()
    assert not ok and "server error" in message
    assert [(sent.path, sent.timeout) for sent in fake_avepoint.sent] == [(TOKEN_PATH, 10), (LIST_PATH, 10)]


def test_the_rule_binds_test_connection_only(fake_avepoint):
    """A saved connection is trusted as saved: onboarding may use any token URL its owner chose."""
    hook = fake_avepoint.make_hook(extra={"token_url": "http://identity.corp.test/connect/token"})
    hook.get_conn().mount("http://identity.corp.test", fake_avepoint)
    fake_avepoint.queue(TOKEN_PATH, Reply(body={"access_token": "t-123456", "expires_in": 3600}))
    assert hook.get_token() == "t-123456"


# -- what the test proves, and how it fails ----------------------------------------------------


def test_test_connection_reports_a_broken_connection_instead_of_raising(monkeypatch):
    set_connection(
        monkeypatch, "avepoint_broken", conn_type="avepoint", host=FAKE_GRAPH, login="", password="x"
    )
    ok, message = AvePointHook("avepoint_broken").test_connection()
    assert not ok and "login (client id) is empty" in message


def test_test_connection_gets_a_token_and_lists_one_customer(fake_avepoint):
    hook = fake_avepoint.make_hook()
    fake_avepoint.queue(LIST_PATH, customer_page([{"id": "a", "ownerEmail": "a@x.example"}], 1, 1))
    ok, message = hook.test_connection()
    assert ok and "1 customers visible" in message
    assert fake_avepoint.sent_to(LIST_PATH)[0].query["pageSize"] == ["1"]

    fake_avepoint.queue(TOKEN_PATH, Reply(status=400, body={"error": "invalid_client"}))
    ok, message = hook.test_connection()
    assert not ok and "invalid_client" in message


@pytest.mark.integration
def test_test_connection_against_the_sandbox(sandbox, monkeypatch):
    assert AvePointHook().test_connection() == (
        True,
        f"Connected to {sandbox.server.url} with client_secret auth; 0 customers visible",
    )
    fields = avepoint_connection(sandbox.server)
    set_connection(monkeypatch, "avepoint_default", **(fields | {"password": "wrong-secret"}))
    ok, message = AvePointHook().test_connection()
    assert not ok and "invalid_client" in message and "wrong-secret" not in message
