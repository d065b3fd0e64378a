"""Make the connection list's *Test Connection* button work for connections without a port.

Airflow 3.3.2's UI posts ``"port": Number(connection.port)`` to ``POST /api/v2/connections/test``,
and ``Number(null)`` is ``0``. The API server then sees port 0 where the stored connection has
none, takes it for "testing a different destination" and, because the UI sends the masked
``***`` password, refuses with *400 The host or port to test differs from the stored
connection*. That hits every connection whose type hides the port, ``avepoint`` included.

Upstream fixed it in the API (apache/airflow#73298: port 0 counts as blank, like ``""``); this
root middleware backports that one normalisation for the API server that loads this plugins
folder: a test request's ``"port": 0`` becomes ``null``. Nothing else is touched, and a port 0
compared with a stored real port still differs. Remove this file once Airflow includes the fix.
"""

from __future__ import annotations

import json
from typing import Any

from airflow.plugins_manager import AirflowPlugin

TEST_PATH_SUFFIX = "/api/v2/connections/test"


def normalized_body(body: bytes) -> bytes:
    """The request body with ``"port": 0`` as ``null``; anything else unchanged, byte for byte."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict) or data.get("port") != 0 or isinstance(data.get("port"), bool):
        return body
    return json.dumps(data | {"port": None}).encode()


class PortlessConnectionTestMiddleware:
    """Pure ASGI middleware: rewrites only ``POST .../api/v2/connections/test`` bodies."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope.get("type") != "http"
            or scope.get("method") != "POST"
            or not scope.get("path", "").endswith(TEST_PATH_SUFFIX)
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = normalized_body(b"".join(chunks))
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope | {"headers": headers}, replay, send)


class ConnectionTestPortFixPlugin(AirflowPlugin):
    name = "connection_test_port_fix"
    fastapi_root_middlewares = [
        {
            "middleware": PortlessConnectionTestMiddleware,
            "args": [],
            "kwargs": {},
            "name": "Test Connection for connections without a port (apache/airflow#73298)",
        }
    ]
