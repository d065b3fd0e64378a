"""The response value the endpoint functions return and the HTTP handler writes.

Building replies as values (instead of writing to the socket at once) lets a
fault replace the answer after the backend has acted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    # What went wrong, for the one-line request log (never a body or a secret).
    note: str = ""


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None, note: str = "") -> Reply:
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Reply(status, body, JSON_TYPE, dict(headers or {}), note)


def error_reply(
    status: int, error: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> Reply:
    """A JSON error body; the docs define none for Elements, so the sandbox uses OAuth's ``error`` key."""
    return json_reply(status, {"error": error, "message": message, **extra}, headers, note=error)
