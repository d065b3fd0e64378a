"""Helpers for the AvePoint sandbox tests: onboarding bodies, tokens, client assertions, an API client."""

from __future__ import annotations

import datetime
import ipaddress
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from avepoint_sandbox import SandboxServer
from avepoint_sandbox.reference import (
    JWT_BEARER,
    LIST_PATH,
    ONBOARD_PATH,
    SCOPE_READ,
    SCOPE_READWRITE,
)

BOTH_SCOPES = f"{SCOPE_READWRITE} {SCOPE_READ}"
EAST_US = "e44bb3ed-f1d8-4055-8c77-c8fd8cd63409"
PASSWORD_SENTINEL = "Pw-SENTINEL-9f3a"


def customer_body(account: str = "alice@contoso.example", **overrides: Any) -> dict[str, Any]:
    """A valid onboarding body; ``overrides`` replace or add fields."""
    body: dict[str, Any] = {
        "firstName": "Alice",
        "lastName": "Example",
        "organizationName": "Contoso",
        "registrationAccount": account,
        "countryCode": "US",
        "dataCenter": EAST_US,
        "password": PASSWORD_SENTINEL,
    }
    body.update(overrides)
    return body


def request_token(server: SandboxServer, scope: str | None = BOTH_SCOPES, **form: str) -> requests.Response:
    data = {"grant_type": "client_credentials", "client_id": server.config.client_id}
    if scope is not None:
        data["scope"] = scope
    if "client_assertion" not in form:
        data["client_secret"] = server.config.client_secret or ""
    data.update(form)
    return requests.post(server.token_url, data=data, timeout=5)


def get_token(server: SandboxServer, scope: str | None = BOTH_SCOPES) -> str:
    response = request_token(server, scope)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def make_assertion(
    private_key: rsa.RSAPrivateKey,
    *,
    client_id: str = "sandbox-client",
    aud: str,
    exp_in: float = 300,
    jti: str | None = None,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "jti": jti if jti is not None else uuid.uuid4().hex,
        "iat": now,
        "exp": now + int(exp_in),
    }
    payload.update(claims)
    return jwt.encode(payload, private_key, algorithm="RS256")


def assertion_form(assertion: str) -> dict[str, str]:
    return {"client_assertion_type": JWT_BEARER, "client_assertion": assertion}


class Api:
    """A keep-alive client for the Graph endpoints of one sandbox."""

    def __init__(self, server: SandboxServer, token: str | None = None) -> None:
        self.server = server
        self.token = token if token is not None else get_token(server)
        self.session = requests.Session()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def onboard(self, body: Any, *, timeout: float = 5.0) -> requests.Response:
        return self.session.post(
            self.server.url + ONBOARD_PATH, json=body, headers=self.headers, timeout=timeout
        )

    def onboard_raw(self, data: bytes, *, timeout: float = 5.0) -> requests.Response:
        headers = self.headers | {"Content-Type": "application/json"}
        return self.session.post(self.server.url + ONBOARD_PATH, data=data, headers=headers, timeout=timeout)

    def list(
        self,
        page_index: int | str | None = None,
        page_size: int | str | None = None,
        ids: Any = None,
        *,
        timeout: float = 5.0,
    ) -> requests.Response:
        params = {}
        if page_index is not None:
            params["pageIndex"] = page_index
        if page_size is not None:
            params["pageSize"] = page_size
        body = None if ids is None else {"customerIds": ids}
        return self.session.post(
            self.server.url + LIST_PATH, params=params, json=body, headers=self.headers, timeout=timeout
        )

    def close(self) -> None:
        self.session.close()


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A fresh self-signed certificate for ``host`` (IP address SAN) and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "sandbox-cert.pem", directory / "sandbox-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path
