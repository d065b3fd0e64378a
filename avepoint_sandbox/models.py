"""Stored customers and the seed format.

A customer holds what the list endpoint returns plus the onboarding details the
real service keeps internally; never a password.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from avepoint_sandbox.reference import COUNTRIES, normalize_data_center
from avepoint_sandbox.validation import OnboardRequest, ValidationError, is_email

# Undocumented mapping of the onboarding boolean onto the list endpoint's integer
# (0 customer-managed, 1 partner-managed, 2 to be configured): true -> 1, false -> 0, absent -> 2.
MANAGEMENT_MODE_TRUE = 1
MANAGEMENT_MODE_FALSE = 0
MANAGEMENT_MODE_UNSET = 2


def management_mode_code(value: bool | None) -> int:
    """The list endpoint's ``managementMode`` integer for the onboarding boolean."""
    if value is None:
        return MANAGEMENT_MODE_UNSET
    return MANAGEMENT_MODE_TRUE if value else MANAGEMENT_MODE_FALSE


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Customer:
    """A customer managed by the sandbox's partner."""

    id: str
    organization: str
    owner_email: str
    job_status: str
    country_code: str
    management_mode: int
    first_name: str | None = None
    last_name: str | None = None
    telephone_number: str | None = None
    data_center: str | None = None
    tags: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=_now)
    source: str = "onboard"

    @classmethod
    def from_onboarding(cls, request: OnboardRequest, job_status: str) -> Customer:
        return cls(
            id=str(uuid.uuid4()),
            organization=request.organization_name,
            owner_email=request.registration_account,
            job_status=job_status,
            country_code=request.country_code,
            management_mode=management_mode_code(request.management_mode),
            first_name=request.first_name,
            last_name=request.last_name,
            telephone_number=request.telephone_number,
            data_center=request.data_center,
            tags=list(request.tags),
        )

    @property
    def account_key(self) -> str:
        return self.owner_email.lower()

    def to_public(self) -> dict[str, Any]:
        """The list endpoint's view of the customer."""
        return {
            "id": self.id,
            "organization": self.organization,
            "ownerEmail": self.owner_email,
            "jobStatus": self.job_status,
            "countryOrRegion": COUNTRIES.get(self.country_code, self.country_code),
            "managementMode": self.management_mode,
            "tenants": [],
        }

    def to_record(self) -> dict[str, Any]:
        """The full stored record (inspection and the state file)."""
        return self.to_public() | {
            "countryCode": self.country_code,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "telephoneNumber": self.telephone_number,
            "dataCenter": self.data_center,
            "tags": list(self.tags),
            "createdAt": self.created_at,
            "source": self.source,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Customer:
        return cls(
            id=record["id"],
            organization=record["organization"],
            owner_email=record["ownerEmail"],
            job_status=record["jobStatus"],
            country_code=record["countryCode"],
            management_mode=int(record["managementMode"]),
            first_name=record.get("firstName"),
            last_name=record.get("lastName"),
            telephone_number=record.get("telephoneNumber"),
            data_center=record.get("dataCenter"),
            tags=list(record.get("tags") or []),
            created_at=record.get("createdAt") or _now(),
            source=record.get("source", "onboard"),
        )


@dataclass(frozen=True)
class SeedData:
    """Customers that are already the partner's, and accounts that belong to other partners."""

    customers: tuple[Customer, ...] = ()
    other_partner_accounts: tuple[str, ...] = ()


def parse_seed(payload: Any, *, job_status: str, partner_account: str) -> SeedData:
    """Validate a seed body (``POST /_sandbox/seed`` or the ``--seed`` file)."""
    if not isinstance(payload, dict):
        raise ValidationError("body", "the seed must be a JSON object")
    unknown = set(payload) - {"customers", "other_partner_accounts"}
    if unknown:
        raise ValidationError(sorted(unknown)[0], "is not a seed key")
    raw_customers = payload.get("customers") or []
    raw_others = payload.get("other_partner_accounts") or []
    if not isinstance(raw_customers, list):
        raise ValidationError("customers", "must be a list")
    if not isinstance(raw_others, list) or not all(isinstance(a, str) and is_email(a) for a in raw_others):
        raise ValidationError("other_partner_accounts", "must be a list of e-mail addresses")
    customers = tuple(
        _seed_customer(raw, f"customers[{i}]", job_status, partner_account)
        for i, raw in enumerate(raw_customers)
    )
    return SeedData(customers, tuple(raw_others))


def _seed_customer(raw: Any, where: str, job_status: str, partner_account: str) -> Customer:
    if not isinstance(raw, dict):
        raise ValidationError(where, "must be a JSON object")

    def required(name: str) -> str:
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"{where}.{name}", "must be a non-empty string")
        return value

    def text(name: str) -> str | None:
        return None if raw.get(name) is None else required(name)

    account = required("registrationAccount")
    organization = required("organizationName")
    country = required("countryCode")
    if not is_email(account):
        raise ValidationError(f"{where}.registrationAccount", "must be an e-mail address")
    if account.lower() == partner_account.lower():
        raise ValidationError(f"{where}.registrationAccount", "is the partner's own account")
    if country not in COUNTRIES:
        raise ValidationError(f"{where}.countryCode", "is not one of the documented country codes")
    data_center = text("dataCenter")
    if data_center is not None:
        data_center = normalize_data_center(data_center)
        if data_center is None:
            raise ValidationError(f"{where}.dataCenter", "is not one of the documented data center GUIDs")
    mode = raw.get("managementMode")
    if mode is None or isinstance(mode, bool):
        mode_code = management_mode_code(mode)
    elif isinstance(mode, int) and mode in (0, 1, 2):
        mode_code = mode
    else:
        raise ValidationError(f"{where}.managementMode", "must be true, false or 0, 1, 2")
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ValidationError(f"{where}.tags", "must be a list of strings")
    return Customer(
        id=text("id") or str(uuid.uuid4()),
        organization=organization,
        owner_email=account.strip(),
        job_status=text("jobStatus") or job_status,
        country_code=country,
        management_mode=mode_code,
        first_name=text("firstName"),
        last_name=text("lastName"),
        telephone_number=text("telephoneNumber"),
        data_center=data_center,
        tags=list(tags),
        source="seed",
    )
