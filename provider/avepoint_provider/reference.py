"""AvePoint's documented reference data: the country codes and data centers a customer may have.

One source for whatever checks a customer before it is sent (a pipeline's validation rules, a
DAG's params), so that every check accepts exactly what the onboarding API accepts. Source:
AvePoint's public API documentation (``AvePoint/cloud-api`` on GitHub:
``docs/elements/user-management/user_public_api/countryorregion.md`` and the onboarding page's
``dataCenter`` table).
"""

from __future__ import annotations

import json
from pathlib import Path

# The 249 ISO 3166-1 alpha-2 codes the onboarding API accepts, with their names.
COUNTRY_NAMES: dict[str, str] = json.loads(
    (Path(__file__).parent / "countryorregion.json").read_text("utf-8")
)

COMMERCIAL, GOV = "commercial", "gov"

# dataCenter GUID -> (region, family). A customer's data center must belong to the family of
# the connection's environment (commercial and aos2: commercial; gov and fedramp: gov).
DATA_CENTERS: dict[str, tuple[str, str]] = {
    "0b635b49-4c56-4e52-800a-1fa79b2d5b08": ("Australia Southeast (Victoria)", COMMERCIAL),
    "7b9835ec-7299-4177-85e3-ba5cb3b2e041": ("Canada Central (Toronto)", COMMERCIAL),
    "e44bb3ed-f1d8-4055-8c77-c8fd8cd63409": ("East US (Virginia)", COMMERCIAL),
    "49681f94-26a7-4825-aca2-df2eca7c0f81": ("France Central (Paris)", COMMERCIAL),
    "ab2faf29-9e66-45ce-bf37-32f8cf484fb2": ("GCP for Australia Southeast (Sydney)", COMMERCIAL),
    "7bd9748b-b52b-4e4d-9389-e70dccee3b2d": ("GCP for East US (Moncks Corner)", COMMERCIAL),
    "4f77581e-1a6f-47fd-9f68-9134a4f6989b": ("GCP for Japan (Tokyo)", COMMERCIAL),
    "8998f218-708f-4084-8647-32ed67042487": ("GCP for South Korea (Seoul)", COMMERCIAL),
    "e38cb1b7-efa9-490e-ab46-83b45a94d1da": ("GCP for West Europe (Eemshaven, Netherlands)", COMMERCIAL),
    "3225f6f8-a98c-425e-8279-c6696d99659d": ("Germany West Central (Frankfurt)", COMMERCIAL),
    "ca577c72-83bd-454c-af62-da3d0586691d": ("Japan West (Osaka)", COMMERCIAL),
    "e4f66389-8219-4432-9af1-01a9fe62a640": ("Korea Central (Seoul)", COMMERCIAL),
    "f1cdd2b2-ac32-4509-8784-fb2b947ef519": ("North Europe (Ireland)", COMMERCIAL),
    "0d4a9846-97ad-4c09-bb1c-8fbe93eaf3c6": ("Southeast Asia (Singapore)", COMMERCIAL),
    "f8ccd75d-d979-417c-96ee-ae256a3af091": ("Switzerland North (Zurich)", COMMERCIAL),
    "d95b9c82-a426-400f-8256-70646fdd1b4f": ("UK South (London)", COMMERCIAL),
    "4f93bdff-9b11-47b9-aa68-a86bfa09f61c": ("West Europe (Netherlands)", COMMERCIAL),
    "d9210f50-bdb1-4f8f-a2bb-99694d11f2da": ("US Gov Virginia (Virginia)", GOV),
}


def data_centers_of(family: str) -> frozenset[str]:
    return frozenset(guid for guid, (_, fam) in DATA_CENTERS.items() if fam == family)
