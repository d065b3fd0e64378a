"""AvePointHook against the real sandbox server: certificate auth, token life, reconciliation, paging."""

from __future__ import annotations

import time

import pytest

from avepoint_provider.customer import Customer
from avepoint_provider.errors import AvePointAuthError
from avepoint_provider.hooks.avepoint import AvePointHook
from avepoint_sandbox import SandboxConfig, SandboxServer
from tests.conftest import avepoint_connection, set_connection
from tests.support.reference import EAST_US

pytestmark = pytest.mark.integration


def customer(n: int) -> Customer:
    return Customer(
        first_name="Ann",
        last_name="Lee",
        organization_name=f"Org {n}",
        registration_account=f"user{n}@contoso.example",
        country_code="US",
        data_center=EAST_US,
        password=f"Hook-Pw-{n}-secret",
    )


@pytest.fixture(scope="module")
def cert_sandbox(rsa_public_pem):
    with SandboxServer(SandboxConfig(client_public_key_pem=rsa_public_pem, token_lifetime=3600)) as server:
        yield server


def cert_connection(server, monkeypatch, **extra) -> AvePointHook:
    fields = avepoint_connection(server, **extra)
    fields.pop("password")  # no client secret: the certificate is the credential
    set_connection(monkeypatch, "avepoint_cert", **fields)
    return AvePointHook("avepoint_cert")


def test_certificate_auth_end_to_end(cert_sandbox, rsa_private_pem, monkeypatch):
    hook = cert_connection(cert_sandbox, monkeypatch, private_key=rsa_private_pem)
    assert hook.settings.auth_method == "certificate"
    result = hook.onboard_customer(customer(1))
    assert result.api_status == 1
    assert hook.test_connection()[0]


def test_certificate_from_a_file_or_pasted_without_line_breaks(
    cert_sandbox, rsa_private_pem, tmp_path, monkeypatch
):
    key_file = tmp_path / "client.pem"
    key_file.write_text(rsa_private_pem)
    assert cert_connection(cert_sandbox, monkeypatch, private_key_path=str(key_file)).test_connection()[0]
    one_line = rsa_private_pem.replace("\n", " ")
    assert cert_connection(cert_sandbox, monkeypatch, private_key=one_line).test_connection()[0]


def test_a_wrong_certificate_is_refused(cert_sandbox, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    hook = cert_connection(cert_sandbox, monkeypatch, private_key=other.decode())
    with pytest.raises(
        AvePointAuthError, match="refused the certificate of client 'sandbox-client': invalid_client"
    ):
        hook.get_token()


def test_tokens_are_reused_then_renewed_when_they_expire(monkeypatch):
    with SandboxServer(SandboxConfig(token_lifetime=2)) as server:
        set_connection(monkeypatch, "avepoint_short", **avepoint_connection(server))
        hook = AvePointHook("avepoint_short")
        for n in range(3):
            hook.onboard_customer(customer(n))
        assert server.control().inspect()["token_requests"] == 1
        time.sleep(2.1)
        hook.onboard_customer(customer(9))
        assert server.control().inspect()["token_requests"] == 2


def test_a_revoked_token_is_renewed_once(sandbox):
    hook = AvePointHook()
    hook.onboard_customer(customer(1))
    sandbox.revoke()  # tokens die, the client may get new ones
    assert hook.onboard_customer(customer(2)).api_status == 1
    assert sandbox.inspect()["token_requests"] == 2


@pytest.mark.parametrize("lost", ["drop", "500"])
def test_a_lost_response_creates_the_customer_exactly_once(sandbox, lost):
    sandbox.script("user1@contoso.example", [{"lost": lost}])
    result = AvePointHook().onboard_customer(customer(1))
    assert result.found_by_lookup
    inspect = sandbox.inspect()
    assert inspect["creations_per_account"] == {"user1@contoso.example": 1}
    assert inspect["posts_per_account"] == {"user1@contoso.example": 1}
    assert result.customer_id == inspect["customers"][0]["id"]


def test_a_timeout_is_retried_and_reconciled(sandbox, monkeypatch):
    set_connection(monkeypatch, "avepoint_default", **avepoint_connection(sandbox.server, timeout=0.3))
    sandbox.script("user1@contoso.example", [{"hang": 0.6}])
    result = AvePointHook().onboard_customer(customer(1))
    assert result.api_status == 1 and not result.found_by_lookup
    assert sandbox.inspect()["posts_per_account"] == {"user1@contoso.example": 2}


def test_list_customers_pages_through_the_sandbox(sandbox):
    sandbox.seed(
        customers=[
            {
                "registrationAccount": f"seed{n}@x.example",
                "organizationName": f"Seed {n}",
                "countryCode": "DE",
            }
            for n in range(230)
        ]
    )
    hook = AvePointHook()
    customers = list(hook.list_customers())
    assert len(customers) == 230 and customers[0]["countryOrRegion"] == "Germany"
    assert sandbox.inspect()["requests"]["list"] == 3
    assert hook.find_customer_by_account("SEED229@x.example")["organization"] == "Seed 229"


def test_test_connection_against_the_sandbox(sandbox, monkeypatch):
    assert AvePointHook().test_connection() == (
        True,
        f"Connected to {sandbox.server.url} with client_secret auth; 0 customers visible",
    )
    fields = avepoint_connection(sandbox.server)
    set_connection(monkeypatch, "avepoint_default", **(fields | {"password": "wrong-secret"}))
    ok, message = AvePointHook().test_connection()
    assert not ok and "invalid_client" in message and "wrong-secret" not in message
