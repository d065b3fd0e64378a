"""The identity service's ``/connect/token``: OAuth 2.0 client credentials.

Client authentication by secret (``client_secret`` in the form) or by an RS256
JWT client assertion (RFC 7523) verified against the configured public key or
certificate. Errors follow RFC 6749 section 5.2; descriptions never repeat a
submitted secret or assertion.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from avepoint_sandbox.config import SandboxConfig
from avepoint_sandbox.reference import JWT_BEARER
from avepoint_sandbox.replies import Reply, json_reply
from avepoint_sandbox.state import SandboxState

_ASSERTION_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the client assertion has expired"),
    (jwt.InvalidAudienceError, "the client assertion's audience is not this token endpoint"),
    (jwt.InvalidIssuerError, "the client assertion's issuer is not the client"),
    (jwt.ImmatureSignatureError, "the client assertion is not valid yet"),
    (jwt.MissingRequiredClaimError, "the client assertion lacks a required claim"),
    (jwt.InvalidSignatureError, "the client assertion's signature does not verify"),
    (jwt.InvalidAlgorithmError, "the client assertion must be signed with RS256"),
    (jwt.DecodeError, "the client assertion is not a valid JWT"),
)


class OAuthError(Exception):
    """An RFC 6749 error answer."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def reply(self) -> Reply:
        payload = {"error": self.error, "error_description": self.description}
        return json_reply(
            self.status, payload, {"Cache-Control": "no-store", "Pragma": "no-cache"}, self.error
        )


def load_public_key(pem: str) -> RSAPublicKey:
    """The RSA public key of a PEM public key or X.509 certificate."""
    data = pem.encode("ascii")
    key = (
        x509.load_pem_x509_certificate(data).public_key()
        if b"BEGIN CERTIFICATE" in data
        else load_pem_public_key(data)
    )
    if not isinstance(key, RSAPublicKey):
        raise ValueError("the client's key must be an RSA key (assertions are RS256)")
    return key


class IdentityService:
    """Issues bearer tokens to the one configured client."""

    def __init__(self, config: SandboxConfig, state: SandboxState) -> None:
        self.config = config
        self.state = state
        self.public_key = (
            load_public_key(config.client_public_key_pem) if config.client_public_key_pem else None
        )

    def token(self, content_type: str, body: bytes, audiences: Iterable[str]) -> Reply:
        """Answer one token request."""
        try:
            form = self._form(content_type, body)
            scopes = self._grant(form, list(audiences))
        except OAuthError as exc:
            return exc.reply()
        token = self.state.issue_token(scopes)
        payload = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": math.ceil(self.config.token_lifetime),
            "scope": " ".join(scopes),
        }
        return json_reply(200, payload, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    @staticmethod
    def _form(content_type: str, body: bytes) -> dict[str, str]:
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            raise OAuthError("invalid_request", "the form body cannot be parsed") from None
        repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
        if repeated:
            raise OAuthError("invalid_request", f"parameter {repeated[0]} is repeated")
        return {name: values[0] for name, values in parsed.items()}

    def _grant(self, form: dict[str, str], audiences: list[str]) -> tuple[str, ...]:
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
        self._authenticate(form, audiences)
        return self._scopes(form.get("scope", ""))

    def _authenticate(self, form: dict[str, str], audiences: list[str]) -> None:
        client_id = form.get("client_id")
        if not client_id:
            raise OAuthError("invalid_request", "client_id is required")
        if client_id != self.config.client_id or not self.state.client_enabled:
            raise OAuthError("invalid_client", "unknown or disabled client", 401)
        has_secret = "client_secret" in form
        has_assertion = "client_assertion" in form or "client_assertion_type" in form
        if has_secret and has_assertion:
            raise OAuthError("invalid_request", "use either client_secret or client_assertion, not both")
        if has_secret:
            expected = self.config.client_secret
            if expected is None or not hmac.compare_digest(form["client_secret"].encode(), expected.encode()):
                raise OAuthError("invalid_client", "client authentication failed", 401)
            return
        if has_assertion:
            self._verify_assertion(form, audiences)
            return
        raise OAuthError("invalid_client", "no client credentials were sent", 401)

    def _verify_assertion(self, form: dict[str, str], audiences: list[str]) -> None:
        if form.get("client_assertion_type") != JWT_BEARER:
            raise OAuthError("invalid_request", f"client_assertion_type must be {JWT_BEARER}")
        assertion = form.get("client_assertion")
        if not assertion:
            raise OAuthError("invalid_request", "client_assertion is required")
        if self.public_key is None:
            raise OAuthError("invalid_client", "the client has no certificate registered", 401)
        client_id = self.config.client_id
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                self.public_key,
                algorithms=["RS256"],
                audience=audiences,
                issuer=client_id,
                leeway=self.config.jwt_leeway_seconds,
                options={"require": ["exp", "iss", "sub", "aud", "jti"]},
            )
        except jwt.PyJWTError as exc:
            message = next((text for kind, text in _ASSERTION_ERRORS if isinstance(exc, kind)), None)
            raise OAuthError("invalid_client", message or "the client assertion is invalid", 401) from None
        if claims.get("sub") != client_id:
            raise OAuthError("invalid_client", "the client assertion's subject is not the client", 401)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise OAuthError("invalid_client", "the client assertion's jti must be a non-empty string", 401)
        if not self.state.remember_jti(jti, float(claims["exp"])):
            raise OAuthError("invalid_client", "the client assertion was already used (jti replay)", 401)

    def _scopes(self, requested: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(requested.split()))
        if not names:
            if self.config.require_scope:
                raise OAuthError("invalid_scope", "scope is required")
            return tuple(self.config.allowed_scopes)
        unknown = [name for name in names if name not in self.config.allowed_scopes]
        if unknown:
            raise OAuthError("invalid_scope", "a requested scope is not allowed for this client")
        return names
