"""The run note goes to the API server over the scheme its connection names, never downgraded to http."""

from __future__ import annotations

import json

import pytest
import requests

from include.onboarding.run_note import publish_note
from tests.conftest import set_connection

CONN_ID = "airflow_api"


@pytest.fixture
def sent(monkeypatch):
    """Every request publish_note makes, answered in-process: (method, url) each."""
    requests_seen: list[tuple[str, str]] = []

    def send(self, request, **kwargs):
        requests_seen.append((request.method, request.url))
        response = requests.Response()
        response.status_code = 200
        response.url = request.url
        response._content = json.dumps({"access_token": "note-token-1234567"}).encode()
        return response

    monkeypatch.setattr(requests.Session, "send", send)
    return requests_seen


@pytest.mark.parametrize(
    ("connection", "base"),
    [
        ({"conn_type": "https", "host": "airflow.example"}, "https://airflow.example"),
        ({"conn_type": "https", "host": "airflow.example", "port": 8443}, "https://airflow.example:8443"),
        ({"conn_type": "http", "host": "airflow.example", "schema": "https"}, "https://airflow.example"),
        ({"conn_type": "http", "host": "https://airflow.example/"}, "https://airflow.example"),
        ({"conn_type": "http", "host": "https://airflow.example:8443"}, "https://airflow.example:8443"),
        # HttpHook's default when nothing names a scheme.
        ({"conn_type": "http", "host": "airflow.example", "port": 8080}, "http://airflow.example:8080"),
    ],
    ids=["conn-type-https", "conn-type-https-port", "schema-https", "host-with-scheme", "host-with-scheme-port",
         "plain-http"],
)  # fmt: skip
def test_the_note_and_the_user_password_go_over_the_connection_scheme(monkeypatch, sent, connection, base):
    set_connection(monkeypatch, CONN_ID, login="admin", password="api-user-password-1", **connection)

    assert publish_note("dag_a", "manual__1", "note text", CONN_ID)

    assert sent == [
        ("POST", f"{base}/auth/token"),
        ("PATCH", f"{base}/api/v2/dags/dag_a/dagRuns/manual__1?update_mask=note"),
    ]


def test_a_connection_uri_with_https_keeps_https(monkeypatch, sent):
    """An ``AIRFLOW_CONN_*`` URI ``https://...`` gives conn_type https and no schema."""
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", "https://admin:api-user-password-1@airflow.example:8443")

    assert publish_note("dag_a", "manual__1", "note text", CONN_ID)

    assert [url for _, url in sent][0] == "https://airflow.example:8443/auth/token"


# -- token auth (Astro's API tokens), and no REST access at all ----------------------------------------


@pytest.fixture
def headers(monkeypatch):
    """Every request publish_note makes, answered in-process: (method, url, Authorization header) each."""
    seen: list[tuple[str, str, str | None]] = []

    def send(self, request, **kwargs):
        seen.append((request.method, request.url, request.headers.get("Authorization")))
        response = requests.Response()
        response.status_code = 200
        response.url = request.url
        response._content = b"{}"
        return response

    monkeypatch.setattr(requests.Session, "send", send)
    return seen


def test_an_api_token_in_the_password_is_sent_as_a_bearer_token(monkeypatch, headers):
    """Astro: a Deployment API token, no login; the API lives under the deployment's path."""
    set_connection(
        monkeypatch,
        CONN_ID,
        conn_type="https",
        host="https://example.astronomer.run/d1a2b3c4",
        password="astro-deployment-token-1",
    )

    assert publish_note("dag_a", "manual__1", "note text", CONN_ID)

    assert headers == [
        (
            "PATCH",
            "https://example.astronomer.run/d1a2b3c4/api/v2/dags/dag_a/dagRuns/manual__1?update_mask=note",
            "Bearer astro-deployment-token-1",
        )
    ]


def test_an_api_token_in_the_extra_is_sent_as_a_bearer_token(monkeypatch, headers):
    set_connection(
        monkeypatch, CONN_ID, conn_type="https", host="airflow.example", extra={"token": "extra-token-2"}
    )

    assert publish_note("dag_a", "manual__1", "note text", CONN_ID)

    assert [(method, auth) for method, _, auth in headers] == [("PATCH", "Bearer extra-token-2")]


def test_a_refused_token_is_said_once_with_what_to_fix(monkeypatch, caplog):
    def send(self, request, **kwargs):
        response = requests.Response()
        response.status_code = 401
        response.url = request.url
        response._content = b'{"detail": "Invalid token"}'
        return response

    monkeypatch.setattr(requests.Session, "send", send)
    set_connection(
        monkeypatch, CONN_ID, conn_type="https", host="airflow.example", password="expired-token-3"
    )

    with caplog.at_level("INFO", logger="include.onboarding.run_note"):
        assert not publish_note("dag_a", "manual__1", "note text", CONN_ID)

    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1, messages
    assert "HTTP 401" in messages[0] and "token" in messages[0] and "finish_run" in messages[0]
    assert "expired-token-3" not in messages[0]


def test_without_rest_access_the_run_says_so_once_and_where_the_summary_is(monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_AIRFLOW_API", raising=False)

    with caplog.at_level("INFO", logger="include.onboarding.run_note"):
        assert not publish_note("dag_a", "manual__1", "note text", CONN_ID)

    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1, messages
    assert caplog.records[0].levelname == "WARNING"
    # Where to read it instead, and how to turn the note on.
    assert "finish_run" in messages[0] and "XCom" in messages[0] and CONN_ID in messages[0]


def test_a_busy_api_server_is_asked_again(monkeypatch):
    """A 5xx (the API server's metadata database locked, seen under load) is retried: the note lands."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    monkeypatch.setattr("include.onboarding.run_note.BACKOFF_SECONDS", 0.01)
    patches: list[int] = []

    class Api(BaseHTTPRequestHandler):
        def do_GET(self):  # /auth/token, as the simple auth manager with every user an admin answers
            self._answer(200, {"access_token": "note-token-1234567"})

        def do_PATCH(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            patches.append(1)
            self._answer(500 if len(patches) < 3 else 200, {})

        def _answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        set_connection(monkeypatch, CONN_ID, conn_type="http", host=f"127.0.0.1:{server.server_port}")

        assert publish_note("dag_a", "manual__1", "note text", CONN_ID)
    finally:
        server.shutdown()
        server.server_close()
    assert len(patches) == 3
