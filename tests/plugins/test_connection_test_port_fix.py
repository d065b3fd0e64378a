"""``plugins/connection_test_port_fix.py``: the connection list's Test button for connections without
a port, checked on the middleware itself (``tests/browser`` clicks the button).
"""

from __future__ import annotations

import asyncio
import json

import pytest


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
