"""The Graph customer endpoints' processing, once a request is authorized and admitted.

Pure request -> reply functions over the state; faults are the handler's business.
"""

from __future__ import annotations

from avepoint_sandbox.config import SandboxConfig
from avepoint_sandbox.replies import Reply, error_reply, json_reply
from avepoint_sandbox.state import SandboxState
from avepoint_sandbox.validation import (
    ValidationError,
    parse_customer_ids,
    parse_page,
    validate_onboarding,
)


def _invalid(exc: ValidationError) -> Reply:
    return error_reply(400, "invalid_request", exc.message, field=exc.field)


def onboard(
    state: SandboxState, config: SandboxConfig, payload: object, *, counted_after_creation: bool
) -> Reply:
    """``POST /partner/external/v3/general/customers`` for an already decoded body.

    ``payload`` is the decoded JSON, or the ValidationError decoding raised.
    """
    if isinstance(payload, ValidationError):
        return _invalid(payload)
    try:
        request = validate_onboarding(payload, case_insensitive=config.case_insensitive_fields)
    except ValidationError as exc:
        return _invalid(exc)
    status, customer_id = state.onboard(request, counted_after_creation=counted_after_creation)
    return json_reply(200, {"id": customer_id, "status": status}, note=f"status={status}")


def list_customers(state: SandboxState, query: dict[str, list[str]], body: bytes) -> Reply:
    """``POST /partner/external/v3/general/customers/batch``."""
    try:
        page_index, page_size = parse_page(query)
        ids = parse_customer_ids(body)
    except ValidationError as exc:
        return _invalid(exc)
    return json_reply(200, state.list_customers(ids, page_index, page_size))
