"""Onboarding (status semantics, validation) and the list endpoint (paging, filter) of the sandbox."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from avepoint_sandbox import SandboxServer
from tests.sandbox.helpers import PASSWORD_SENTINEL, Api, customer_body

pytestmark = pytest.mark.integration

ECHO = "ECHO-SENTINEL-7c1"


def test_new_customer_is_created_with_status_1(sandbox: SandboxServer, api: Api) -> None:
    response = api.onboard(customer_body(tags=["pilot"], telephoneNumber="+1 555 0100", managementMode=True))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == 1
    assert str(uuid.UUID(body["id"])) == body["id"]
    listed = api.list().json()
    assert listed["data"] == [
        {
            "id": body["id"],
            "organization": "Contoso",
            "ownerEmail": "alice@contoso.example",
            "jobStatus": "Succeed",
            "countryOrRegion": "United States",
            "managementMode": 1,
            "tenants": [],
        }
    ]
    record = sandbox.state.inspect()["customers"][0]
    assert record["dataCenter"] == "e44bb3ed-f1d8-4055-8c77-c8fd8cd63409"
    assert record["tags"] == ["pilot"]
    assert PASSWORD_SENTINEL not in repr(record)


@pytest.mark.parametrize(("mode", "code"), [(True, 1), (False, 0), (None, 2)])
def test_management_mode_mapping(api: Api, mode: bool | None, code: int) -> None:
    body = customer_body() if mode is None else customer_body(managementMode=mode)
    api.onboard(body)
    assert api.list().json()["data"][0]["managementMode"] == code


def test_existing_customer_gets_status_5_with_its_id(sandbox: SandboxServer, api: Api) -> None:
    first = api.onboard(customer_body("Bob@Fabrikam.example")).json()
    again = api.onboard(customer_body("bob@fabrikam.EXAMPLE", organizationName="Other name")).json()
    assert again == {"id": first["id"], "status": 5}
    state = sandbox.state.inspect()
    assert len(state["customers"]) == 1
    assert state["creations_per_account"] == {"bob@fabrikam.example": 1}
    assert state["posts_after_creation"] == {"bob@fabrikam.example": 1}
    assert state["status_counts"] == {"1": 1, "5": 1}


def test_partner_account_gets_status_6(api: Api) -> None:
    assert api.onboard(customer_body("Partner@Sandbox.example")).json() == {"id": None, "status": 6}
    assert api.list().json()["metadata"]["totalCount"] == 0


def test_seeded_accounts_get_status_7_and_5(sandbox: SandboxServer, api: Api) -> None:
    sandbox.control().seed(
        customers=[
            {
                "registrationAccount": "seeded@ours.example",
                "organizationName": "Ours",
                "countryCode": "DE",
                "id": "c-1",
            }
        ],
        other_partner_accounts=["Taken@Elsewhere.example"],
    )
    assert api.onboard(customer_body("taken@elsewhere.example")).json() == {"id": None, "status": 7}
    assert api.onboard(customer_body("SEEDED@ours.example")).json() == {"id": "c-1", "status": 5}
    state = sandbox.state.inspect()
    assert [c["countryOrRegion"] for c in state["customers"]] == ["Germany"]
    assert state["creations_per_account"] == {}
    assert state["posts_per_account"] == {"taken@elsewhere.example": 1, "seeded@ours.example": 1}


def _without(field: str) -> dict[str, Any]:
    body = customer_body(ECHO.lower() + "@x.example")
    del body[field]
    return body


INVALID_BODIES: list[tuple[str, Any, str]] = [
    ("array body", [customer_body()], "body"),
    ("missing firstName", _without("firstName"), "firstName"),
    ("missing lastName", _without("lastName"), "lastName"),
    ("missing organizationName", _without("organizationName"), "organizationName"),
    ("missing registrationAccount", _without("registrationAccount"), "registrationAccount"),
    ("missing countryCode", _without("countryCode"), "countryCode"),
    ("missing dataCenter", _without("dataCenter"), "dataCenter"),
    ("missing password", _without("password"), "password"),
    ("blank lastName", customer_body(lastName="   "), "lastName"),
    ("numeric organizationName", customer_body(organizationName=42), "organizationName"),
    ("not an e-mail", customer_body(f"{ECHO}-no-at-sign"), "registrationAccount"),
    ("unknown country", customer_body(countryCode="ZZ"), "countryCode"),
    ("lower-case country", customer_body(countryCode="us"), "countryCode"),
    ("three-letter country", customer_body(countryCode="USA"), "countryCode"),
    ("typo data center", customer_body(dataCenter="7b9835ec-7299-4177-85e3-ba5cb3b2e0411"), "dataCenter"),
    ("unknown data center", customer_body(dataCenter=str(uuid.uuid4())), "dataCenter"),
    ("numeric password", customer_body(password=12345), "password"),
    ("empty password", customer_body(password=""), "password"),
    ("tags not a list", customer_body(tags=ECHO), "tags"),
    ("tags not strings", customer_body(tags=[ECHO, 1]), "tags"),
    ("managementMode not bool", customer_body(managementMode=ECHO), "managementMode"),
    ("managementMode int", customer_body(managementMode=1), "managementMode"),
    ("telephoneNumber not string", customer_body(telephoneNumber=5550100), "telephoneNumber"),
    (
        "PascalCase field",
        {"RegistrationAccount": "a@b.example"} | _without("registrationAccount"),
        "registrationAccount",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "field"), INVALID_BODIES, ids=[case for case, _, _ in INVALID_BODIES]
)
def test_validation_names_the_field_and_never_echoes(
    sandbox: SandboxServer, api: Api, case: str, body: Any, field: str
) -> None:
    response = api.onboard(body)
    assert response.status_code == 400, case
    payload = response.json()
    assert payload["error"] == "invalid_request"
    assert payload["field"] == field
    assert payload["message"]
    assert ECHO.lower() not in response.text.lower()
    assert PASSWORD_SENTINEL not in response.text
    assert sandbox.state.inspect()["customers"] == []


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe"])
def test_non_json_body_is_400(api: Api, raw: bytes) -> None:
    response = api.onboard_raw(raw)
    assert response.status_code == 400
    assert response.json()["field"] == "body"


def test_case_insensitive_fields_when_configured(sandbox_factory: Callable[..., SandboxServer]) -> None:
    server = sandbox_factory(case_insensitive_fields=True)
    body = {k[0].upper() + k[1:]: v for k, v in customer_body().items()}
    assert Api(server).onboard(body).json()["status"] == 1


def test_data_center_guid_case_and_gov(api: Api) -> None:
    assert api.onboard(customer_body("a@x.example", dataCenter="E44BB3ED-F1D8-4055-8C77-C8FD8CD63409")).ok
    assert api.onboard(customer_body("b@x.example", dataCenter="d9210f50-bdb1-4f8f-a2bb-99694d11f2da")).ok


def test_passwords_never_reach_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        api.onboard(customer_body())
        api.onboard(customer_body(countryCode="ZZ"))
    assert caplog.records, "the sandbox should log one line per request"
    assert PASSWORD_SENTINEL not in caplog.text


def test_concurrent_duplicates_create_once(sandbox: SandboxServer) -> None:
    token = Api(sandbox).token
    results: list[dict[str, Any]] = []

    def post() -> None:
        api = Api(sandbox, token=token)
        results.append(api.onboard(customer_body("race@x.example")).json())

    threads = [threading.Thread(target=post) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r["status"] for r in results) == [1] + [5] * 11
    assert len({r["id"] for r in results}) == 1
    state = sandbox.state.inspect()
    assert state["creations_per_account"] == {"race@x.example": 1}
    assert state["posts_after_creation"] == {"race@x.example": 11}


# -- list endpoint ---------------------------------------------------------------------------------


def test_paging_250_customers(api: Api) -> None:
    ids = [api.onboard(customer_body(f"user{i:03d}@paging.example")).json()["id"] for i in range(250)]
    pages = [api.list(page_index=i, page_size=100).json() for i in (1, 2, 3, 4)]
    assert [len(p["data"]) for p in pages] == [100, 100, 50, 0]
    assert all(p["metadata"]["totalCount"] == 250 for p in pages)
    assert pages[2]["metadata"] == {"pageIndex": 3, "pageSize": 100, "totalCount": 250}
    assert [c["id"] for p in pages for c in p["data"]] == ids
    default = api.list().json()
    assert default["metadata"] == {"pageIndex": 1, "pageSize": 50, "totalCount": 250}
    assert len(default["data"]) == 50


@pytest.mark.parametrize(
    ("page_index", "page_size", "field"),
    [
        (1, 101, "pageSize"),
        (1, 0, "pageSize"),
        (0, 10, "pageIndex"),
        (-1, 10, "pageIndex"),
        ("x", 10, "pageIndex"),
    ],
)
def test_bad_paging_is_400(api: Api, page_index: Any, page_size: Any, field: str) -> None:
    response = api.list(page_index=page_index, page_size=page_size)
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_customer_ids_filter(api: Api) -> None:
    ids = [api.onboard(customer_body(f"f{i}@filter.example")).json()["id"] for i in range(5)]
    filtered = api.list(ids=[ids[3], ids[1], "unknown-id"]).json()
    assert [c["id"] for c in filtered["data"]] == [ids[1], ids[3]]
    assert filtered["metadata"]["totalCount"] == 2
    assert api.list(ids=[]).json()["metadata"]["totalCount"] == 5
    bad = api.list(ids="not-a-list")
    assert bad.status_code == 400
    assert bad.json()["field"] == "customerIds"


def test_unknown_paths_are_404_json(sandbox: SandboxServer, api: Api) -> None:
    for method, path in [("GET", "/partner/external/v3/general/customers"), ("POST", "/nope"), ("GET", "/")]:
        response = requests.request(method, sandbox.url + path, headers=api.headers, timeout=5)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
        assert response.headers["request-id"]
