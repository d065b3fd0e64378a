"""Reading an ``avepoint`` Airflow connection into validated client settings.

Connection fields: ``host`` = Graph base URL (scheme included), ``login`` =
client id, ``password`` = client secret. Extras: ``environment`` (a preset that
fills in both URLs), ``token_url``, ``scope``, ``timeout``, ``private_key`` (PEM
text) or ``private_key_path`` for certificate auth (the file is read only when a
token is first needed, by :func:`read_private_key_file`), the retry settings of
:class:`~avepoint_provider.retry.RetryPolicy`, and the transport settings that
HttpHook reads from every HTTP connection: ``verify`` (true, false or a CA bundle
path), ``cert`` (client certificate path) and ``proxies`` (``{"https": url, ...}``).
Every URL a preset fills in stays overridable from the connection.
"""

from __future__ import annotations

import json
import os
import re
import stat
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from avepoint_provider.errors import AvePointConfigError
from avepoint_provider.retry import RetryPolicy, number_from_extra

DEFAULT_SCOPE = "elements.customers.readwrite.all elements.customers.read.all"
DEFAULT_TIMEOUT = 30.0
# A PEM private key is a few KiB; anything larger at private_key_path is not one.
PRIVATE_KEY_FILE_MAX_BYTES = 64 * 1024


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


def read_private_key_file(conn_id: str, path_text: str) -> str:
    """The PEM private key in the file at ``path_text`` (``~`` expanded).

    Only a regular file of at most 64 KiB is read: a device such as ``/dev/zero`` or a FIFO
    would exhaust memory or block the reader. Every failure (nothing there, a directory, a
    device, too large, unreadable, not PEM) raises one and the same message, so that an error
    never tells whether a file exists: Airflow's *Test* button runs this on the API server
    with a path the tester chose.
    """
    problem = AvePointConfigError(
        f"connection {conn_id!r}: extra 'private_key_path' is not a readable PEM file of at most "
        f"{PRIVATE_KEY_FILE_MAX_BYTES // 1024} KiB"
    )
    path = Path(path_text).expanduser()
    try:
        # Checked before opening (opening some devices has effects) and again on what was opened.
        if not _small_regular_file(os.stat(path)):
            raise problem
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY), "rb") as file:
            if not _small_regular_file(os.fstat(file.fileno())):
                raise problem
            data = file.read(PRIVATE_KEY_FILE_MAX_BYTES + 1)
        if len(data) > PRIVATE_KEY_FILE_MAX_BYTES:
            raise problem
        return normalize_pem(data.decode("ascii"))
    except (OSError, ValueError, AvePointConfigError):  # a UnicodeDecodeError is a ValueError
        raise problem from None


def _small_regular_file(status: os.stat_result) -> bool:
    return stat.S_ISREG(status.st_mode) and status.st_size <= PRIVATE_KEY_FILE_MAX_BYTES


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
    # Certificate auth: the key pasted into the connection, or the path of a file holding it.
    private_key: str | None = field(default=None, repr=False)
    private_key_path: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # requests' own transport settings: a CA bundle path or whether to verify TLS; client
    # certificate path; proxy URL per scheme.
    verify: bool | str = True
    cert: str | None = None
    proxies: dict[str, str] = field(default_factory=dict)

    @property
    def auth_method(self) -> str:
        return "certificate" if self.private_key or self.private_key_path else "client_secret"

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
        if private_key:
            private_key = normalize_pem(private_key)
        # A pasted key wins; a file is read only when a token is first needed (after Test
        # Connection's checks of where the credentials would go).
        key_path = None if private_key else (str(extra.get("private_key_path") or "").strip() or None)
        client_secret = conn.password or None
        if not private_key and not key_path and not client_secret:
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
            private_key_path=key_path,
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
