"""The ``avepoint`` connection form Airflow's UI builds from the provider info (``tests/browser`` shows
it in the UI), and what the hook makes of what the form saves.
"""

from __future__ import annotations

import json

from avepoint_provider import get_provider_info


def _connection_type() -> dict:
    (entry,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "avepoint"]
    return entry


def test_connection_form_labels_every_field_and_hides_the_unused_ones():
    entry = _connection_type()
    behaviour = entry["ui-field-behaviour"]
    assert set(behaviour["hidden-fields"]) == {"schema", "port"}
    assert behaviour["relabeling"] == {"host": "Graph URL", "login": "Client ID", "password": "Client secret"}
    for field in ("host", "login", "password"):
        assert behaviour["placeholders"][field], field
    fields = entry["conn-fields"]
    assert {"environment", "token_url", "scope", "timeout", "private_key", "private_key_path"} <= set(fields)
    for name, field in fields.items():
        assert field["label"] and field["description"].endswith("."), name
        assert "null" in field["schema"]["type"], f"{name}: a cleared field is saved as null"
    assert fields["private_key"]["schema"]["format"] == "password"
    # Airflow masks every field whose name contains "token": the form says so instead of surprising people.
    assert "***" in fields["token_url"]["description"]


def test_a_cleared_number_field_means_the_default(monkeypatch):
    """The form saves a cleared Timeout as null; the hook must not call that invalid."""
    from airflow.sdk import Connection

    from avepoint_provider.settings import AvePointSettings

    conn = Connection(
        conn_id="avepoint_form",
        conn_type="avepoint",
        host="https://graph.avepointonlineservices.com",
        login="client",
        password="secret",
        extra=json.dumps(
            {"environment": "commercial", "token_url": None, "timeout": None, "private_key": None}
        ),
    )
    settings = AvePointSettings.from_connection(conn)
    assert settings.timeout == 30
    assert settings.token_url == "https://identity.avepointonlineservices.com/connect/token"
    assert settings.auth_method == "client_secret"
