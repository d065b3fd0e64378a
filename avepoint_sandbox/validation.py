"""Request validation for the Graph endpoints and the seed body.

Error messages name the field and the rule in plain words and never repeat the
submitted value: a rejected body may hold a password or personal data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from avepoint_sandbox.reference import (
    COUNTRIES,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    normalize_data_center,
)

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_REQUIRED_STRINGS = ("firstName", "lastName", "organizationName", "registrationAccount", "countryCode")
_ONBOARD_FIELDS = (
    "firstName",
    "lastName",
    "organizationName",
    "registrationAccount",
    "countryCode",
    "telephoneNumber",
    "dataCenter",
    "password",
    "tags",
    "managementMode",
)


class ValidationError(ValueError):
    """A request field broke a rule; ``field`` is its camelCase name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class OnboardRequest:
    """A valid onboarding body, minus the password, which the sandbox never keeps."""

    first_name: str
    last_name: str
    organization_name: str
    registration_account: str
    country_code: str
    telephone_number: str | None
    data_center: str
    tags: tuple[str, ...]
    management_mode: bool | None


def parse_json(body: bytes) -> Any:
    """The decoded JSON value of ``body``, or ValidationError naming the body itself."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("body", "the request body is not valid JSON") from None


def account_of(payload: Any, *, case_insensitive: bool = False) -> str | None:
    """The lower-cased ``registrationAccount`` of a body, if it has one; used before validation."""
    if not isinstance(payload, dict):
        return None
    value = _fields(payload, case_insensitive).get("registrationAccount")
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _fields(payload: dict[str, Any], case_insensitive: bool) -> dict[str, Any]:
    """The body's known fields under their documented names."""
    if not case_insensitive:
        return payload
    by_lower = {name.lower(): name for name in _ONBOARD_FIELDS}
    mapped: dict[str, Any] = {}
    for key, value in payload.items():
        canonical = by_lower.get(key.lower()) if isinstance(key, str) else None
        mapped.setdefault(canonical or key, value)
    return mapped


def _required_string(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        raise ValidationError(name, "is required")
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(name, "must be a non-empty string")
    return value


def _optional(data: dict[str, Any], name: str) -> Any:
    """A field's value, with JSON null read as absent."""
    return data.get(name)


def is_email(value: str) -> bool:
    return bool(_EMAIL_RE.match(value))


def validate_onboarding(payload: Any, *, case_insensitive: bool = False) -> OnboardRequest:
    """Check an onboarding body against the documented field table."""
    if not isinstance(payload, dict):
        raise ValidationError("body", "the request body must be a JSON object")
    data = _fields(payload, case_insensitive)
    values = {name: _required_string(data, name) for name in _REQUIRED_STRINGS}
    if not is_email(values["registrationAccount"].strip()):
        raise ValidationError("registrationAccount", "must be an e-mail address")
    if values["countryCode"] not in COUNTRIES:
        raise ValidationError("countryCode", "is not one of the documented country codes")
    telephone = _optional(data, "telephoneNumber")
    if telephone is not None and not isinstance(telephone, str):
        raise ValidationError("telephoneNumber", "must be a string")
    data_center = normalize_data_center(_required_string(data, "dataCenter"))
    if data_center is None:
        raise ValidationError("dataCenter", "is not one of the documented data center GUIDs")
    _required_string(data, "password")
    tags = _optional(data, "tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags)):
        raise ValidationError("tags", "must be a list of strings")
    management_mode = _optional(data, "managementMode")
    if management_mode is not None and not isinstance(management_mode, bool):
        raise ValidationError("managementMode", "must be true or false")
    return OnboardRequest(
        first_name=values["firstName"],
        last_name=values["lastName"],
        organization_name=values["organizationName"],
        registration_account=values["registrationAccount"].strip(),
        country_code=values["countryCode"],
        telephone_number=telephone,
        data_center=data_center,
        tags=tuple(tags or ()),
        management_mode=management_mode,
    )


def parse_page(query: dict[str, list[str]]) -> tuple[int, int]:
    """``pageIndex`` (>= 1, default 1) and ``pageSize`` (1..100, default 50) from a parsed query."""
    page_index = _query_int(query, "pageIndex", 1)
    page_size = _query_int(query, "pageSize", DEFAULT_PAGE_SIZE)
    if page_index < 1:
        raise ValidationError("pageIndex", "must be 1 or more")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationError("pageSize", f"must be between 1 and {MAX_PAGE_SIZE}")
    return page_index, page_size


def _query_int(query: dict[str, list[str]], name: str, default: int) -> int:
    # Query keys bind case-insensitively in ASP.NET; accept pageindex as well as pageIndex.
    values = next((v for k, v in query.items() if k.lower() == name.lower()), None)
    if not values or values[-1] == "":
        return default
    try:
        return int(values[-1])
    except ValueError:
        raise ValidationError(name, "must be a whole number") from None


def parse_customer_ids(body: bytes) -> tuple[str, ...] | None:
    """The optional ``customerIds`` filter of a list request; None or empty means no filter."""
    if not body.strip():
        return None
    payload = parse_json(body)
    if payload is None:
        return None
    if not isinstance(payload, dict):
        raise ValidationError("body", "the request body must be a JSON object")
    ids = payload.get("customerIds")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValidationError("customerIds", "must be a list of strings")
    return tuple(ids) or None
