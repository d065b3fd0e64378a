"""Reference data of the real AvePoint Graph API: paths, scopes, countries, data centers.

Kept in one module so the sandbox validates against exactly the documented
values (``docs/elements/general/customer/onboard-customer.md`` and
``countryorregion.md``) and nothing else.
"""

from __future__ import annotations

from types import MappingProxyType

from avepoint_provider.reference import COMMERCIAL, COUNTRY_NAMES, GOV
from avepoint_provider.reference import DATA_CENTERS as _DATA_CENTERS

TOKEN_PATH = "/connect/token"
ONBOARD_PATH = "/partner/external/v3/general/customers"
LIST_PATH = "/partner/external/v3/general/customers/batch"
CONTROL_PREFIX = "/_sandbox"

SCOPE_READWRITE = "elements.customers.readwrite.all"
SCOPE_READ = "elements.customers.read.all"
DEFAULT_SCOPES: tuple[str, ...] = (SCOPE_READWRITE, SCOPE_READ)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50

# Onboarding status codes (the response's ``status``).
STATUS_SUCCESSFUL = 1
STATUS_FAILED = 2
STATUS_CUSTOMER_NOT_EXIST = 3
STATUS_REGISTER_FAILED = 4
STATUS_MANAGED_BY_CURRENT_PARTNER = 5
STATUS_SAME_AS_PARTNER = 6
STATUS_ALREADY_EXISTS = 7

# The documented data centers and countries, shared with the project's validation rules.
COMMERCIAL_DATA_CENTERS: MappingProxyType[str, str] = MappingProxyType(
    {guid: region for guid, (region, family) in _DATA_CENTERS.items() if family == COMMERCIAL}
)
GOV_DATA_CENTERS: MappingProxyType[str, str] = MappingProxyType(
    {guid: region for guid, (region, family) in _DATA_CENTERS.items() if family == GOV}
)
DATA_CENTERS: MappingProxyType[str, str] = MappingProxyType({**COMMERCIAL_DATA_CENTERS, **GOV_DATA_CENTERS})
COUNTRIES: MappingProxyType[str, str] = MappingProxyType(COUNTRY_NAMES)


def normalize_data_center(value: str) -> str | None:
    """The documented GUID ``value`` names, or None.

    GUIDs compare case-insensitively (as .NET's ``Guid`` does); anything else,
    including the 13-character typos of older doc copies, is not a data center.
    """
    lowered = value.lower()
    return lowered if lowered in DATA_CENTERS else None
