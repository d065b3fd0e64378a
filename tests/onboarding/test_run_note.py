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
