"""The customer an onboarding request creates: one value type for every layer that handles one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


class InvalidCustomerError(ValueError):
    """A customer's fields cannot form a request. The message names the field, never its value."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name} {problem}")
        self.field_name = field_name


@dataclass(frozen=True)
class Customer:
    """The fields of ``POST /partner/external/v3/general/customers``, in snake case.

    The password is left out of ``repr`` (and so of any log line or error that formats a
    customer); :meth:`to_request_body` is the one place it is put into a request.
    """

    first_name: str
    last_name: str
    organization_name: str
    registration_account: str
    country_code: str
    data_center: str
    password: str = field(repr=False)
    telephone_number: str | None = None
    tags: tuple[str, ...] | None = None
    management_mode: bool | None = None

    # snake_case field -> the API's camelCase name, in the documented order.
    API_NAMES: ClassVar[Mapping[str, str]] = {
        "first_name": "firstName",
        "last_name": "lastName",
        "organization_name": "organizationName",
        "registration_account": "registrationAccount",
        "country_code": "countryCode",
        "data_center": "dataCenter",
        "password": "password",
        "telephone_number": "telephoneNumber",
        "tags": "tags",
        "management_mode": "managementMode",
    }

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Customer:
        """A customer from a mapping with the snake_case field names (e.g. a table row).

        ``tags`` may be a list or JSON text; an empty phone or tag text counts as absent.
        Raises :class:`InvalidCustomerError` naming the field that cannot be sent.
        """
        for name in ("first_name", "last_name", "organization_name", "registration_account",
                     "country_code", "data_center", "password"):  # fmt: skip
            if not isinstance(values.get(name), str) or not values[name]:
                raise InvalidCustomerError(name, "is missing")
        mode = values.get("management_mode")
        return cls(
            **{name: values[name] for name in cls.field_names()[:7]},
            telephone_number=values.get("telephone_number") or None,
            tags=_tags(values.get("tags")),
            management_mode=None if mode is None else bool(mode),
        )

    def to_request_body(self) -> dict[str, Any]:
        """The request body in the API's camelCase; optional fields only when given."""
        body: dict[str, Any] = {}
        for name, api_name in self.API_NAMES.items():
            value = getattr(self, name)
            if value is None or (name == "telephone_number" and not value):
                continue
            body[api_name] = list(value) if name == "tags" else value
        return body


def _tags(value: Any) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidCustomerError("tags", "is not a JSON array of strings") from None
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
        raise InvalidCustomerError("tags", "is not a JSON array of strings")
    return tuple(value)
