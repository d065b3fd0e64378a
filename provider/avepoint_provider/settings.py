"""Reading an ``avepoint`` Airflow connection into validated client settings.

Connection fields: ``host`` = Graph base URL (scheme included), ``login`` =
client id, ``password`` = client secret. Extras: ``environment`` (a preset that
fills in both URLs), ``token_url``, ``scope``, ``timeout``, ``private_key`` (PEM
text) or ``private_key_path`` for certificate auth, the retry settings of
:class:`~avepoint_provider.retry.RetryPolicy`, and the transport settings that
HttpHook reads from every HTTP connection: ``verify`` (true, false or a CA bundle
path), ``cert`` (client certificate path) and ``proxies`` (``{"https": url, ...}``).
Every URL a preset fills in stays overridable from the connection.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from avepoint_provider.errors import AvePointConfigError
from avepoint_provider.retry import RetryPolicy, number_from_extra

DEFAULT_SCOPE = "elements.customers.readwrite.all elements.customers.read.all"
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Environment:
    """One AvePoint cloud: where its identity service and Graph API live."""

    name: str
    token_url: str
    graph_url: str
    # Which family of data centers a customer may be placed in under this cloud.
    data_center_family: str


ENVIRONMENTS: dict[str, Environment] = {
    env.name: env
    for env in (
        Environment(
            "commercial",
            "https://identity.avepointonlineservices.com/connect/token",
            "https://graph.avepointonlineservices.com",
            "commercial",
        ),
        Environment(
            "gov",
            "https://identity-gov.avepointonlineservices.com/connect/token",
            "https://graph-gov.avepointonlineservices.com",
            "gov",
        ),
        Environment(
            "aos2",
            "https://identity-aos2.avepointonlineservices.com/connect/token",
            "https://graph-aos2.avepointonlineservices.com",
            "commercial",
        ),
        Environment(
            "fedramp",
            "https://identity.online15.net/connect/token",
            "https://graphusgovapi.online15.net",
            "gov",
        ),
    )
}

_PEM_RE = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.DOTALL)


def normalize_pem(text: str) -> str:
    """Return PEM text with its line breaks restored.

    A key pasted into a single-line form field (or an environment variable)
    loses its newlines; the base64 body is re-wrapped at 64 characters.
    """
    match = _PEM_RE.search(text)
    if not match:
        raise AvePointConfigError("private_key is not PEM text (no -----BEGIN ...----- block found)")
    label, body = match.group(1), re.sub(r"\s+", "", match.group(2))
    wrapped = "\n".join(textwrap.wrap(body, 64))
    return f"-----BEGIN {label}-----\n{wrapped}\n-----END {label}-----\n"


@dataclass(frozen=True)
class AvePointSettings:
    """Everything the hook needs, read once from the connection."""

    graph_url: str
    token_url: str
    client_id: str
    scope: str
    timeout: float
    environment: Environment
    client_secret: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # requests' own transport settings: a CA bundle path or whether to verify TLS; client
    # certificate path; proxy URL per scheme.
    verify: bool | str = True
    cert: str | None = None
    proxies: dict[str, str] = field(default_factory=dict)

    @property
    def auth_method(self) -> str:
        return "certificate" if self.private_key else "client_secret"

    @classmethod
    def from_connection(cls, conn: Any) -> AvePointSettings:
        """Build settings from an Airflow ``Connection``; raise a clear error on bad values."""
        extra: dict[str, Any] = dict(conn.extra_dejson or {})
        env_name = str(extra.get("environment") or "commercial").strip().lower()
        if env_name not in ENVIRONMENTS:
            raise AvePointConfigError(
                f"connection {conn.conn_id!r}: extra 'environment' must be one of "
                f"{', '.join(ENVIRONMENTS)}, got {env_name!r}"
            )
        env = ENVIRONMENTS[env_name]

        graph_url = _graph_url(conn) or env.graph_url
        token_url = str(extra.get("token_url") or env.token_url).strip()
        for label, url in (("host (Graph URL)", graph_url), ("extra 'token_url'", token_url)):
            try:
                valid = urlsplit(url).scheme in ("http", "https") and bool(urlsplit(url).hostname)
                urlsplit(url).port  # noqa: B018 - raises ValueError on a port that is not a number
            except ValueError:
                valid = False
            if not valid:
                raise AvePointConfigError(f"connection {conn.conn_id!r}: {label} is not an http(s) URL")

        client_id = (conn.login or "").strip()
        if not client_id:
            raise AvePointConfigError(f"connection {conn.conn_id!r}: login (client id) is empty")

        private_key = extra.get("private_key") or None
        key_path = extra.get("private_key_path")
        if not private_key and key_path:
            try:
                private_key = Path(key_path).expanduser().read_text()
            except OSError as exc:
                raise AvePointConfigError(
                    f"connection {conn.conn_id!r}: cannot read private_key_path ({exc.strerror})"
                ) from None
        if private_key:
            private_key = normalize_pem(private_key)
        client_secret = conn.password or None
        if not private_key and not client_secret:
            raise AvePointConfigError(
                f"connection {conn.conn_id!r}: set the password (client secret) "
                "or extra 'private_key' / 'private_key_path' (certificate)"
            )

        return cls(
            graph_url=graph_url.rstrip("/"),
            token_url=token_url,
            client_id=client_id,
            client_secret=client_secret,
            private_key=private_key,
            scope=" ".join(str(extra.get("scope") or DEFAULT_SCOPE).split()),
            timeout=number_from_extra(conn.conn_id, extra, "timeout", DEFAULT_TIMEOUT),
            environment=env,
            retry=RetryPolicy.from_extra(extra, conn.conn_id),
            verify=_verify(conn.conn_id, extra.get("verify")),
            cert=_existing_path(conn.conn_id, "cert", extra.get("cert")),
            proxies=_proxies(conn.conn_id, extra.get("proxies")),
        )


def _verify(conn_id: str, value: Any) -> bool | str:
    """``verify`` as requests takes it; the form saves text, so "false"/"true" count as booleans."""
    if isinstance(value, bool):
        return value
    text = str(value or "").strip()
    if text.lower() in ("", "true"):
        return True
    if text.lower() == "false":
        return False
    return _existing_path(conn_id, "verify", text) or True


def _existing_path(conn_id: str, key: str, value: Any) -> str | None:
    """A file path from the extras, checked now: requests would only fail on the first request."""
    text = str(value or "").strip()
    if not text:
        return None
    path = Path(text).expanduser()
    if not path.is_file():
        raise AvePointConfigError(f"connection {conn_id!r}: extra {key!r} is not a readable file")
    return str(path)


def _proxies(conn_id: str, value: Any) -> dict[str, str]:
    """``proxies`` as an object (or its JSON text, as the form may save it) of scheme -> proxy URL."""
    if isinstance(value, str):
        value = value.strip()
        try:
            value = json.loads(value) if value else None
        except ValueError:
            value = "not JSON"
    if not value:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise AvePointConfigError(
            f"connection {conn_id!r}: extra 'proxies' must be an object such as "
            '{"https": "http://proxy.internal:3128"}'
        )
    return {str(k): v for k, v in value.items()}


def _graph_url(conn: Any) -> str:
    host = (conn.host or "").strip()
    if not host:
        return ""
    if "://" not in host:
        host = f"https://{host}"
    if conn.port and not urlsplit(host).port:
        parts = urlsplit(host)
        host = f"{parts.scheme}://{parts.hostname}:{conn.port}{parts.path}"
    return host
