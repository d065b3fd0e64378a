"""Sample customers for the demo: mostly valid, a few invalid in different ways, plus the
cases AvePoint itself settles (another partner's customer, one already ours, our own account).

Passwords are made-up demo values that exist only in the local warehouse and sandbox.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from avepoint_provider.customer import Customer

EAST_US = "e44bb3ed-f1d8-4055-8c77-c8fd8cd63409"
UK_SOUTH = "d95b9c82-a426-400f-8256-70646fdd1b4f"
WEST_EUROPE = "4f93bdff-9b11-47b9-aa68-a86bfa09f61c"
JAPAN_WEST = "ca577c72-83bd-454c-af62-da3d0586691d"
AUSTRALIA = "0b635b49-4c56-4e52-800a-1fa79b2d5b08"
GERMANY = "3225f6f8-a98c-425e-8279-c6696d99659d"
US_GOV = "d9210f50-bdb1-4f8f-a2bb-99694d11f2da"
# A mistyped GUID printed by an older copy of AvePoint's docs (13-character last group).
MISTYPED_CANADA = "7b9835ec-7299-4177-85e3-ba5cb3b2e0411"

OTHER_PARTNER_ACCOUNT = "it@globex-holdings.example"
ALREADY_OURS_ACCOUNT = "admin@initech.example"
PARTNER_OWN_ACCOUNT = "partner@sandbox.example"

_VALID = [
    (
        "Ava",
        "Nguyen",
        "Contoso Pharmaceuticals",
        "ava.nguyen@contoso-pharma.example",
        "US",
        "+1 206 555 0101",
        EAST_US,
    ),
    (
        "Liam",
        "Smith",
        "Fabrikam Legal LLP",
        "liam@fabrikam-legal.example",
        "GB",
        "+44 20 7946 0958",
        UK_SOUTH,
    ),
    ("Sofia", "Rossi", "Tailspin Toys Srl", "sofia.rossi@tailspin.example", "IT", None, WEST_EUROPE),
    (
        "Noah",
        "Müller",
        "Adatum Maschinenbau GmbH",
        "noah.mueller@adatum.example",
        "DE",
        "+49 30 901820",
        GERMANY,
    ),
    (
        "Yuki",
        "Tanaka",
        "Northwind Traders KK",
        "y.tanaka@northwind.example",
        "JP",
        "+81 6 6946 1234",
        JAPAN_WEST,
    ),
    (
        "Olivia",
        "Brown",
        "Woodgrove Dental",
        "olivia@woodgrove-dental.example",
        "AU",
        "+61 3 9654 1234",
        AUSTRALIA,
    ),
    ("Lucas", "Martin", "Alpine Ski House", "lucas.martin@alpineski.example", "FR", None, WEST_EUROPE),
    ("Emma", "Johnson", "Litware Accounting", "emma@litware.example", "US", "+1 312 555 0147", EAST_US),
    ("Mateo", "García", "Coho Winery SL", "mateo@cohowinery.example", "ES", "+34 912 345 678", WEST_EUROPE),
    (
        "Zoe",
        "Wilson",
        "Proseware Architects",
        "zoe.wilson@proseware.example",
        "CA",
        "+1 416 555 0199",
        EAST_US,
    ),
    ("Ethan", "Lee", "Wide World Importers", "ethan.lee@wideworld.example", "US", None, EAST_US),
    (
        "Mia",
        "Andersen",
        "Trey Research ApS",
        "mia@treyresearch.example",
        "DK",
        "+45 32 12 34 56",
        WEST_EUROPE,
    ),
    ("Jonas", "Berg", "Lucerne Publishing AS", "jonas.berg@lucerne.example", "NO", None, WEST_EUROPE),
    (
        "Chloe",
        "Dubois",
        "Margie's Travel",
        "chloe@margiestravel.example",
        "BE",
        "+32 2 555 12 34",
        WEST_EUROPE,
    ),
    ("Oscar", "Lindqvist", "Blue Yonder Airlines AB", "oscar@blueyonder.example", "SE", None, WEST_EUROPE),
    ("Amelia", "Clarke", "City Power & Light", "amelia.clarke@cpandl.example", "GB", None, UK_SOUTH),
    ("Leo", "Schmidt", "Graphic Design Institute", "leo@gdi.example", "AT", "+43 1 5354 1234", GERMANY),
]


def demo_customers() -> list[dict[str, Any]]:
    """About 25 customers; keys are stable so a second demo run finds the same rows."""
    rows: list[dict[str, Any]] = []
    for n, (first, last, org, account, country, phone, dc) in enumerate(_VALID, start=1):
        customer = Customer(
            first, last, org, account, country, dc, password=f"Demo-{last[:3]}-{n:03d}-Pw!",
            telephone_number=phone, tags=("msp-demo", country.lower()) if n % 3 else None,
            management_mode=True if n % 2 else None,
        )  # fmt: skip
        rows.append({"customer_key": f"CUST-{n:03d}"} | asdict(customer))
    base = rows[0]

    def variant(key: str, **changes: Any) -> dict[str, Any]:
        return base | {"customer_key": key, "password": f"Demo-{key}-Pw!", "tags": None} | changes

    rows += [
        # AvePoint settles these: another partner's customer (7), already ours (5), our own account (6).
        variant("CUST-101", organization_name="Globex Holdings", registration_account=OTHER_PARTNER_ACCOUNT),
        variant("CUST-102", organization_name="Initech", registration_account=ALREADY_OURS_ACCOUNT),
        variant("CUST-103", organization_name="Sandbox Partner", registration_account=PARTNER_OWN_ACCOUNT),
        # Invalid, each in its own way: they get `invalid` with every broken rule and are never sent.
        variant("CUST-201", organization_name="Bad Email Ltd", registration_account="not-an-email"),
        variant("CUST-202", organization_name="Lowercase Country", registration_account="lc@x.example", country_code="us"),
        variant("CUST-203", organization_name="Old Docs Copy", registration_account="old@x.example", data_center=MISTYPED_CANADA),
        variant("CUST-204", organization_name="Gov Tenant", registration_account="gov@x.example", data_center=US_GOV),
        variant("CUST-205", organization_name="Broken Tags", registration_account="tags@x.example", tags='{"vip": true}'),
        variant("CUST-206", organization_name=" Padded Name ", registration_account="pad@x.example", password=None),
    ]  # fmt: skip
    return rows


def sandbox_seed() -> dict[str, Any]:
    """What the sandbox knows before the demo: one customer already ours, one of another partner."""
    return {
        "customers": [
            {
                "registrationAccount": ALREADY_OURS_ACCOUNT,
                "organizationName": "Initech",
                "countryCode": "US",
                "firstName": "Peter",
                "lastName": "Gibbons",
            }
        ],
        "other_partner_accounts": [OTHER_PARTNER_ACCOUNT],
    }
