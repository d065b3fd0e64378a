"""Reference data of the real AvePoint Graph API: paths, scopes, countries, data centers.

Kept in one module so the sandbox validates against exactly the documented
values (``docs/elements/general/customer/onboard-customer.md`` and
``countryorregion.md``) and nothing else. The sandbox stands in for AvePoint, so it keeps its own
copy rather than the provider's: a client's mistake in its reference data must not be one the
stand-in shares (``tests/sandbox/test_units.py`` compares the two).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

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

# The documented data centers: dataCenter GUID -> region.
COMMERCIAL_DATA_CENTERS: MappingProxyType[str, str] = MappingProxyType(
    {
        "0b635b49-4c56-4e52-800a-1fa79b2d5b08": "Australia Southeast (Victoria)",
        "7b9835ec-7299-4177-85e3-ba5cb3b2e041": "Canada Central (Toronto)",
        "e44bb3ed-f1d8-4055-8c77-c8fd8cd63409": "East US (Virginia)",
        "49681f94-26a7-4825-aca2-df2eca7c0f81": "France Central (Paris)",
        "ab2faf29-9e66-45ce-bf37-32f8cf484fb2": "GCP for Australia Southeast (Sydney)",
        "7bd9748b-b52b-4e4d-9389-e70dccee3b2d": "GCP for East US (Moncks Corner)",
        "4f77581e-1a6f-47fd-9f68-9134a4f6989b": "GCP for Japan (Tokyo)",
        "8998f218-708f-4084-8647-32ed67042487": "GCP for South Korea (Seoul)",
        "e38cb1b7-efa9-490e-ab46-83b45a94d1da": "GCP for West Europe (Eemshaven, Netherlands)",
        "3225f6f8-a98c-425e-8279-c6696d99659d": "Germany West Central (Frankfurt)",
        "ca577c72-83bd-454c-af62-da3d0586691d": "Japan West (Osaka)",
        "e4f66389-8219-4432-9af1-01a9fe62a640": "Korea Central (Seoul)",
        "f1cdd2b2-ac32-4509-8784-fb2b947ef519": "North Europe (Ireland)",
        "0d4a9846-97ad-4c09-bb1c-8fbe93eaf3c6": "Southeast Asia (Singapore)",
        "f8ccd75d-d979-417c-96ee-ae256a3af091": "Switzerland North (Zurich)",
        "d95b9c82-a426-400f-8256-70646fdd1b4f": "UK South (London)",
        "4f93bdff-9b11-47b9-aa68-a86bfa09f61c": "West Europe (Netherlands)",
    }
)
GOV_DATA_CENTERS: MappingProxyType[str, str] = MappingProxyType(
    {"d9210f50-bdb1-4f8f-a2bb-99694d11f2da": "US Gov Virginia (Virginia)"}
)
DATA_CENTERS: MappingProxyType[str, str] = MappingProxyType({**COMMERCIAL_DATA_CENTERS, **GOV_DATA_CENTERS})
# The 249 ISO 3166-1 alpha-2 codes the onboarding API accepts, with their names.
COUNTRIES: MappingProxyType[str, str] = MappingProxyType(
    json.loads((Path(__file__).parent / "countryorregion.json").read_text("utf-8"))
)


def normalize_data_center(value: str) -> str | None:
    """The documented GUID ``value`` names, or None.

    GUIDs compare case-insensitively (as .NET's ``Guid`` does); anything else,
    including the 13-character typos of older doc copies, is not a data center.
    """
    lowered = value.lower()
    return lowered if lowered in DATA_CENTERS else None
