"""What the Airflow UI shows, checked at its sources without a browser: the connection form's
provider info, the connection Test fix, the run note's Markdown. ``tests/browser`` proves it in the UI.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from avepoint_provider import get_provider_info
from include.onboarding.summary import NOTE_MAX_CHARS, RunSummary, pick_rows

# -- the avepoint connection form -------------------------------------------------------------------


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


# -- the Test Connection fix (plugins/connection_test_port_fix.py) ---------------------------------


@pytest.fixture
def port_fix():
    import importlib.util

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location(
        "connection_test_port_fix", ROOT / "plugins/connection_test_port_fix.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _call(middleware_cls, path: str, body: bytes, method: str = "POST") -> tuple[bytes, dict]:
    seen: dict = {}

    async def app(scope, receive, send):
        message = await receive()
        seen["body"], seen["headers"] = message["body"], dict(scope["headers"])

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        pass

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"content-length", str(len(body)).encode())],
    }
    asyncio.run(middleware_cls(app)(scope, receive, send))
    return seen["body"], seen["headers"]


def test_the_ui_port_zero_of_a_portless_connection_is_sent_as_null(port_fix):
    body = json.dumps(
        {"connection_id": "avepoint_default", "conn_type": "avepoint", "port": 0, "password": "***"}
    )
    sent, headers = _call(
        port_fix.PortlessConnectionTestMiddleware, "/api/v2/connections/test", body.encode()
    )
    assert json.loads(sent) == json.loads(body) | {"port": None}
    assert headers[b"content-length"] == str(len(sent)).encode()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v2/connections/test", {"connection_id": "pg", "port": 5432}),  # a real port is compared as is
        ("/api/v2/connections/test", {"connection_id": "pg"}),
        ("/api/v2/connections", {"connection_id": "pg", "port": 0}),  # only the test endpoint
    ],
)
def test_everything_else_passes_untouched(port_fix, path, body):
    raw = json.dumps(body).encode()
    sent, _ = _call(port_fix.PortlessConnectionTestMiddleware, path, raw)
    assert sent == raw


def test_the_plugin_registers_the_middleware(port_fix):
    (entry,) = port_fix.ConnectionTestPortFixPlugin.fastapi_root_middlewares
    assert entry["middleware"] is port_fix.PortlessConnectionTestMiddleware


# -- the run note -------------------------------------------------------------------------------------

LONG = (
    "country_code is not one of the 249 two-letter country codes AvePoint accepts (capital letters, e.g. US)"
)


def _people(invalid: int) -> list[dict]:
    rows = [
        {"customer_key": "C-7", "organization_name": "Globex", "status": "conflict",
         "status_reason": "the account already exists in AvePoint: status 7, under another partner"},
        {"customer_key": "C-6", "organization_name": "Own", "status": "rejected",
         "status_reason": "AvePoint refused the customer: status 6"},
    ]  # fmt: skip
    rows += [
        {
            "customer_key": f"I-{n:02d}",
            "organization_name": f"Org {n}",
            "status": "invalid",
            "status_reason": LONG,
        }
        for n in range(invalid)
    ]
    return rows


def test_a_short_note_still_shows_every_kind_of_problem():
    shown, left_out = pick_rows(_people(invalid=9), limit=3)
    assert [r["status"] for r in shown] == ["conflict", "rejected", "invalid"]
    assert left_out == {"invalid": 8}


def test_the_note_fits_airflow_and_lists_whole_reasons_first():
    summary = RunSummary(
        run_id="manual__1",
        claimed=40,
        counts={"onboarded": 29, "invalid": 9, "rejected": 1, "conflict": 1},
        needing_human=_people(invalid=9),
        table_counts={"onboarded": 29, "invalid": 9, "rejected": 1, "conflict": 1},
    )
    note = summary.note()
    assert len(note) <= NOTE_MAX_CHARS
    assert "**Done, with rows needing a human**: 40 customer(s) taken by this run." in note
    assert "onboarded **29** · invalid **9** · rejected **1** · conflict **1**" in note
    assert "- **C-7** Globex · *conflict*: the account already exists in AvePoint: status 7" in note
    assert "- **C-6** Own · *rejected*: AvePoint refused the customer: status 6" in note
    assert (
        "country\\_code is not one of the 249 two-letter country codes AvePoint accepts (capital letters, e.g. US)"
        in note
    )
    assert "more (" in note and "invalid): see the finish_run task log." in note
    # Markdown blocks are separated by blank lines, so the UI renders a heading line, a list, a paragraph.
    assert "\n\n**Needs a human (11):**\n\n- " in note
    full = summary.render()
    assert full.count("\n- **") == 11 and "more (" not in full


def test_a_dry_run_note_says_what_would_happen():
    summary = RunSummary(
        run_id="manual__2",
        dry_run=True,
        invalid_rows=[r | {"status": "invalid"} for r in _people(invalid=1)[2:]],
        would_send=[{"customer_key": "OK-1", "organization_name": "Fine Ltd"}],
    )
    note = summary.note()
    assert note.startswith("**Dry run**: nothing was claimed, sent or changed. 1 customer(s) would be sent")
    assert "**Would be marked invalid (1):**" in note and "**Would send:** **OK-1** Fine Ltd." in note
