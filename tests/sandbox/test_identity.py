"""The sandbox identity service (/connect/token) and bearer-token checks on the Graph endpoints."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from avepoint_sandbox import SandboxServer
from avepoint_sandbox.reference import SCOPE_READ, SCOPE_READWRITE
from tests.sandbox.helpers import (
    BOTH_SCOPES,
    Api,
    assertion_form,
    customer_body,
    get_token,
    make_assertion,
    request_token,
)

pytestmark = pytest.mark.integration


def _is_uuid(value: str) -> bool:
    return str(uuid.UUID(value)) == value


def test_secret_grant_issues_bearer_token(sandbox: SandboxServer) -> None:
    response = request_token(sandbox)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == BOTH_SCOPES
    assert len(body["access_token"]) >= 32
    assert response.headers["Cache-Control"] == "no-store"
    assert _is_uuid(response.headers["request-id"])


def test_token_lifetime_is_configurable(sandbox_factory: Callable[..., SandboxServer]) -> None:
    server = sandbox_factory(token_lifetime=120)
    assert request_token(server).json()["expires_in"] == 120


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong-secret-value"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"client_id": ""}, 400, "invalid_request"),
        ({"scope": "elements.customers.delete.all"}, 400, "invalid_scope"),
        ({"client_assertion": "x", "client_assertion_type": "y"}, 400, "invalid_request"),
    ],
)
def test_token_errors_follow_rfc6749(
    sandbox: SandboxServer, form: dict[str, str], status: int, error: str
) -> None:
    response = request_token(sandbox, **form)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "wrong-secret-value" not in response.text


def test_token_without_client_credentials_is_invalid_client(sandbox: SandboxServer) -> None:
    data = {"grant_type": "client_credentials", "client_id": "sandbox-client", "scope": SCOPE_READ}
    response = requests.post(sandbox.token_url, data=data, timeout=5)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_request_must_be_form_encoded(sandbox: SandboxServer) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
    }
    response = requests.post(sandbox.token_url, json=form, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_scopes_granted_are_the_requested_subset(sandbox: SandboxServer) -> None:
    assert request_token(sandbox, scope=SCOPE_READ).json()["scope"] == SCOPE_READ
    # Scope omitted: every allowed scope (IdentityServer's default).
    assert request_token(sandbox, scope=None).json()["scope"] == BOTH_SCOPES
    response = request_token(sandbox, scope=f"{SCOPE_READ} elements.customers.delete.all")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_scope_allowlist_and_require_scope(sandbox_factory: Callable[..., SandboxServer]) -> None:
    server = sandbox_factory(allowed_scopes=(SCOPE_READ,), require_scope=True)
    assert request_token(server, scope=SCOPE_READWRITE).json()["error"] == "invalid_scope"
    assert request_token(server, scope=None).json()["error"] == "invalid_scope"
    assert request_token(server, scope=SCOPE_READ).status_code == 200


# -- JWT client assertions -----------------------------------------------------------------------


@pytest.fixture
def cert_sandbox(sandbox_factory: Callable[..., SandboxServer], rsa_public_pem: str) -> SandboxServer:
    return sandbox_factory(client_public_key_pem=rsa_public_pem, client_secret=None)


def test_valid_client_assertion_gets_a_token(cert_sandbox: SandboxServer, rsa_key: rsa.RSAPrivateKey) -> None:
    assertion = make_assertion(rsa_key, aud=cert_sandbox.token_url)
    response = request_token(cert_sandbox, **assertion_form(assertion))
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_client_assertion_verified_against_a_certificate(
    sandbox_factory: Callable[..., SandboxServer], rsa_key: rsa.RSAPrivateKey
) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sandbox-client")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(rsa_key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    server = sandbox_factory(client_public_key_pem=pem)
    response = request_token(server, **assertion_form(make_assertion(rsa_key, aud=server.token_url)))
    assert response.status_code == 200, response.text


def test_public_url_is_an_accepted_audience(
    sandbox_factory: Callable[..., SandboxServer], rsa_key: rsa.RSAPrivateKey, rsa_public_pem: str
) -> None:
    server = sandbox_factory(
        client_public_key_pem=rsa_public_pem, public_url="https://identity.sandbox.test/"
    )
    assertion = make_assertion(rsa_key, aud="https://identity.sandbox.test/connect/token")
    assert request_token(server, **assertion_form(assertion)).status_code == 200


@pytest.mark.parametrize(
    "case", ["wrong_key", "wrong_aud", "expired", "wrong_sub", "wrong_iss", "no_jti", "hs256"]
)
def test_invalid_client_assertions_are_refused(
    cert_sandbox: SandboxServer, rsa_key: rsa.RSAPrivateKey, case: str
) -> None:
    aud = cert_sandbox.token_url
    if case == "wrong_key":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assertion = make_assertion(other, aud=aud)
    elif case == "wrong_aud":
        assertion = make_assertion(rsa_key, aud="https://identity.avepointonlineservices.com/connect/token")
    elif case == "expired":
        assertion = make_assertion(rsa_key, aud=aud, exp_in=-60)
    elif case == "wrong_sub":
        assertion = make_assertion(rsa_key, aud=aud, sub="intruder")
    elif case == "wrong_iss":
        assertion = make_assertion(rsa_key, aud=aud, iss="intruder")
    elif case == "no_jti":
        assertion = make_assertion(rsa_key, aud=aud, jti="")
    else:
        import jwt

        assertion = jwt.encode(
            {
                "iss": "sandbox-client",
                "sub": "sandbox-client",
                "aud": aud,
                "jti": "j",
                "exp": time.time() + 60,
            },
            "a-shared-secret-that-is-long-enough-for-hs256",
            algorithm="HS256",
        )
    response = request_token(cert_sandbox, **assertion_form(assertion))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert assertion not in response.text


def test_replayed_jti_is_refused(cert_sandbox: SandboxServer, rsa_key: rsa.RSAPrivateKey) -> None:
    assertion = make_assertion(rsa_key, aud=cert_sandbox.token_url, jti="once-only")
    assert request_token(cert_sandbox, **assertion_form(assertion)).status_code == 200
    replay = request_token(cert_sandbox, **assertion_form(assertion))
    assert replay.status_code == 401
    assert "replay" in replay.json()["error_description"]
    # A fresh assertion reusing the jti is a replay too.
    again = make_assertion(rsa_key, aud=cert_sandbox.token_url, jti="once-only")
    assert request_token(cert_sandbox, **assertion_form(again)).status_code == 401


def test_assertion_without_registered_key_is_refused(
    sandbox: SandboxServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    response = request_token(sandbox, **assertion_form(make_assertion(rsa_key, aud=sandbox.token_url)))
    assert response.status_code == 401


def test_secret_and_assertion_together_is_invalid_request(
    cert_sandbox: SandboxServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    form = assertion_form(make_assertion(rsa_key, aud=cert_sandbox.token_url)) | {"client_secret": "x"}
    response = request_token(cert_sandbox, **form)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# -- bearer tokens on the Graph endpoints ------------------------------------------------------


def _assert_invalid_token(response: requests.Response) -> None:
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert _is_uuid(response.headers["request-id"])


def test_missing_and_unknown_tokens_get_401(sandbox: SandboxServer) -> None:
    no_token = requests.post(
        sandbox.url + "/partner/external/v3/general/customers", json=customer_body(), timeout=5
    )
    _assert_invalid_token(no_token)
    api = Api(sandbox, token="not-a-token")
    _assert_invalid_token(api.onboard(customer_body()))
    _assert_invalid_token(api.list())
    assert sandbox.state.inspect()["customers"] == []


def test_expired_token_gets_401(sandbox_factory: Callable[..., SandboxServer]) -> None:
    server = sandbox_factory(token_lifetime=1)
    api = Api(server)
    assert api.list().status_code == 200
    time.sleep(1.1)
    _assert_invalid_token(api.list())


def test_revoked_token_gets_401(sandbox: SandboxServer, api: Api) -> None:
    assert api.list().status_code == 200
    sandbox.control().revoke()
    _assert_invalid_token(api.onboard(customer_body()))
    # The client itself is still enabled: a new token works.
    assert Api(sandbox).list().status_code == 200


def test_disabled_client_cannot_get_tokens_until_enabled(sandbox: SandboxServer) -> None:
    control = sandbox.control()
    control.revoke(disable_client=True)
    refused = request_token(sandbox)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    control.enable_client()
    assert request_token(sandbox).status_code == 200


def test_missing_scope_gets_403(sandbox: SandboxServer) -> None:
    reader = Api(sandbox, token=get_token(sandbox, SCOPE_READ))
    response = reader.onboard(customer_body())
    assert response.status_code == 403
    assert response.json() == {
        "error": "insufficient_scope",
        "message": response.json()["message"],
        "scope": SCOPE_READWRITE,
    }
    assert reader.list().status_code == 200

    writer = Api(sandbox, token=get_token(sandbox, SCOPE_READWRITE))
    listed = writer.list()
    assert listed.status_code == 403
    assert listed.json()["scope"] == SCOPE_READ
    assert sandbox.state.inspect()["customers"] == []


def test_list_may_accept_readwrite_when_configured(sandbox_factory: Callable[..., SandboxServer]) -> None:
    server = sandbox_factory(list_requires_read_scope=False)
    assert Api(server, token=get_token(server, SCOPE_READWRITE)).list().status_code == 200
