"""The ``/_sandbox`` control and inspection endpoints (no auth: the sandbox binds to loopback).

They steer faults and state for tests and benchmarks and never count as API
requests, draw random numbers or suffer injected faults.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from avepoint_sandbox.replies import Reply, error_reply, json_reply
from avepoint_sandbox.state import SandboxState
from avepoint_sandbox.validation import ValidationError


class _BadRequest(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _json_object(body: bytes, *, optional: bool = False) -> dict[str, Any]:
    if not body.strip():
        if optional:
            return {}
        raise _BadRequest("a JSON object body is required")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _BadRequest("the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise _BadRequest("the body must be a JSON object")
    return payload


def _health(state: SandboxState, body: bytes) -> Reply:
    return json_reply(200, {"ok": True})


def _get_faults(state: SandboxState, body: bytes) -> Reply:
    return json_reply(200, state.faults.to_dict())


def _put_faults(state: SandboxState, body: bytes) -> Reply:
    try:
        settings = state.update_faults(_json_object(body))
    except ValueError as exc:
        raise _BadRequest(str(exc)) from None
    return json_reply(200, settings.to_dict())


def _delete_faults(state: SandboxState, body: bytes) -> Reply:
    return json_reply(200, state.clear_faults().to_dict())


def _script(state: SandboxState, body: bytes) -> Reply:
    payload = _json_object(body)
    account = payload.get("account")
    actions = payload.get("actions")
    if not isinstance(account, str) or not account.strip():
        raise _BadRequest("account must be a non-empty string", "account")
    if not isinstance(actions, list):
        raise _BadRequest("actions must be a list", "actions")
    try:
        pending = state.add_script(account, actions)
    except ValueError as exc:
        raise _BadRequest(str(exc), "actions") from None
    return json_reply(200, {"account": account.strip().lower(), "pending": pending})


def _revoke(state: SandboxState, body: bytes) -> Reply:
    disable = _json_object(body, optional=True).get("disable_client", False)
    if not isinstance(disable, bool):
        raise _BadRequest("disable_client must be true or false", "disable_client")
    revoked = state.revoke_tokens(disable_client=disable)
    return json_reply(200, {"revoked": revoked, "client_enabled": state.client_enabled})


def _enable_client(state: SandboxState, body: bytes) -> Reply:
    state.enable_client()
    return json_reply(200, {"client_enabled": True})


def _seed(state: SandboxState, body: bytes) -> Reply:
    try:
        result = state.seed(_json_object(body))
    except ValidationError as exc:
        raise _BadRequest(exc.message, exc.field) from None
    return json_reply(200, result)


def _reset(state: SandboxState, body: bytes) -> Reply:
    state.reset()
    return json_reply(200, {"ok": True})


def _inspect(state: SandboxState, body: bytes) -> Reply:
    return json_reply(200, state.inspect())


_ROUTES: dict[tuple[str, str], Callable[[SandboxState, bytes], Reply]] = {
    ("GET", "/health"): _health,
    ("GET", "/faults"): _get_faults,
    ("PUT", "/faults"): _put_faults,
    ("DELETE", "/faults"): _delete_faults,
    ("POST", "/script"): _script,
    ("POST", "/revoke"): _revoke,
    ("POST", "/enable-client"): _enable_client,
    ("POST", "/seed"): _seed,
    ("POST", "/reset"): _reset,
    ("GET", "/inspect"): _inspect,
}


def handle_control(state: SandboxState, method: str, subpath: str, body: bytes) -> Reply:
    """Answer a request under ``/_sandbox``; ``subpath`` is the rest of the path."""
    route = _ROUTES.get((method, subpath.rstrip("/") or "/"))
    if route is None:
        return error_reply(404, "not_found", "no such sandbox control endpoint")
    try:
        return route(state, body)
    except _BadRequest as exc:
        extra = {"field": exc.field} if exc.field else {}
        return error_reply(400, "invalid_request", exc.message, **extra)
