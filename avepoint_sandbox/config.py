"""Configuration of the sandbox: the identity client, API behaviour and fault injection.

The real API's limits and a few of its behaviours are undocumented; each such
choice is a field here (with its default being the most literal reading of the
docs) so tests and benchmarks can flip it instead of editing the server.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avepoint_sandbox.reference import DEFAULT_SCOPES

FAULT_ENDPOINTS = frozenset({"onboard", "list", "token"})
LOST_RESPONSE_MODES = ("500", "drop", "mixed")
MALFORMED_MODES = ("html", "truncated", "status42", "mixed")

_RATE_FIELDS = frozenset(
    {"error_rate_500", "error_rate_503", "rate_429", "lost_response_rate", "timeout_rate", "malformed_rate"}
)


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class FaultSettings:
    """What can go wrong, and how often. All off by default.

    Random faults are checked per request in this order, first hit wins:
    ``rate_429``, ``error_rate_500``, ``error_rate_503``, ``timeout_rate``,
    ``lost_response_rate``, ``malformed_rate``. They, and the token bucket,
    only hit the endpoints named in ``apply_to``; latency hits both Graph
    endpoints (and the token endpoint with ``latency_on_token``).
    """

    latency_ms: float = field(default=0.0, metadata=_help("fixed delay before each Graph request"))
    jitter_ms: float = field(default=0.0, metadata=_help("extra uniform 0..jitter delay"))
    latency_on_token: bool = field(default=False, metadata=_help("delay token requests too"))
    error_rate_500: float = field(default=0.0, metadata=_help("probability of a 500 (not processed)"))
    error_rate_503: float = field(default=0.0, metadata=_help("probability of a 503 (not processed)"))
    rate_429: float = field(default=0.0, metadata=_help("probability of a 429 with Retry-After"))
    retry_after: int = field(default=1, metadata=_help("Retry-After seconds of injected 429s"))
    rate_limit_per_second: float = field(default=0.0, metadata=_help("token-bucket refill rate, 0 = off"))
    rate_limit_burst: int = field(default=0, metadata=_help("token-bucket size, 0 = one second's worth"))
    lost_response_rate: float = field(
        default=0.0, metadata=_help("probability the request is processed but the answer is lost")
    )
    lost_response_mode: str = field(default="500", metadata=_help("how: " + " | ".join(LOST_RESPONSE_MODES)))
    timeout_rate: float = field(
        default=0.0, metadata=_help("probability of hanging, then closing (not processed)")
    )
    hang_seconds: float = field(default=5.0, metadata=_help("how long a timeout fault hangs"))
    malformed_rate: float = field(default=0.0, metadata=_help("probability of a malformed 200 answer"))
    malformed_mode: str = field(default="html", metadata=_help("which: " + " | ".join(MALFORMED_MODES)))
    apply_to: tuple[str, ...] = field(
        default=("onboard",), metadata=_help("endpoints faults hit: onboard, list, token (comma-separated)")
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_fault_value(f.name, getattr(self, f.name))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["apply_to"] = list(self.apply_to)
        return data

    def merged(self, partial: dict[str, Any]) -> FaultSettings:
        """A copy with ``partial`` applied; ValueError names the first bad key or value."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(partial) - known)
        if unknown:
            raise ValueError(f"unknown fault setting {unknown[0]!r}")
        changes = dict(partial)
        if "apply_to" in changes:
            value = changes["apply_to"]
            if isinstance(value, str):
                value = [part for part in value.replace(",", " ").split() if part]
            if not isinstance(value, list | tuple):
                raise ValueError("apply_to must be a list of endpoint names")
            changes["apply_to"] = tuple(value)
        return dataclasses.replace(self, **changes)

    @property
    def bucket_size(self) -> float:
        """The token bucket's capacity: the configured burst, else one second's worth (at least 1)."""
        if self.rate_limit_burst > 0:
            return float(self.rate_limit_burst)
        return float(max(1, math.ceil(self.rate_limit_per_second)))


def _check_fault_value(name: str, value: Any) -> None:
    """Raise ValueError when ``value`` is not acceptable for fault setting ``name``."""
    if name in ("latency_on_token",):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return
    if name == "lost_response_mode":
        if value not in LOST_RESPONSE_MODES:
            raise ValueError(f"{name} must be one of {', '.join(LOST_RESPONSE_MODES)}")
        return
    if name == "malformed_mode":
        if value not in MALFORMED_MODES:
            raise ValueError(f"{name} must be one of {', '.join(MALFORMED_MODES)}")
        return
    if name == "apply_to":
        if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("apply_to must be a list of endpoint names")
        bad = sorted(set(value) - FAULT_ENDPOINTS)
        if bad:
            raise ValueError(f"apply_to names an unknown endpoint; use {', '.join(sorted(FAULT_ENDPOINTS))}")
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number")
    if name in ("retry_after", "rate_limit_burst") and not float(value).is_integer():
        raise ValueError(f"{name} must be a whole number")
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    if name in _RATE_FIELDS and value > 1:
        raise ValueError(f"{name} is a probability between 0 and 1")


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox instance needs; the CLI maps one flag to each field.

    ``port`` 0 picks a free port. ``seed`` has the shape of the
    ``POST /_sandbox/seed`` body and is re-applied by ``reset``.
    """

    host: str = "127.0.0.1"
    port: int = 0
    client_id: str = "sandbox-client"
    client_secret: str | None = "sandbox-secret"
    # PEM of the client's public key or X.509 certificate, for JWT client assertions.
    client_public_key_pem: str | None = None
    allowed_scopes: tuple[str, ...] = DEFAULT_SCOPES
    token_lifetime: float = 3600.0
    partner_account: str = "partner@sandbox.example"
    # The externally visible base URL, when clients reach the sandbox through a proxy or another name;
    # its token URL is accepted as a client-assertion audience besides the one built from Host.
    public_url: str | None = None
    # The docs name read.all as the list scope; readwrite.all alone is refused unless this is False.
    list_requires_read_scope: bool = True
    # Undocumented: omitting ``scope`` grants every allowed scope (IdentityServer's default) unless True.
    require_scope: bool = False
    # Undocumented: the docs' field names are camelCase; ASP.NET may also bind other casings.
    case_insensitive_fields: bool = False
    # Undocumented: the list endpoint's ``jobStatus`` of a customer onboarded here.
    job_status: str = "Succeed"
    random_seed: int | None = None
    seed: dict[str, Any] | None = None
    state_file: Path | None = None
    faults: FaultSettings = field(default_factory=FaultSettings)
    # Clock skew tolerated on client-assertion exp/nbf/iat.
    jwt_leeway_seconds: float = 5.0
    # Serve HTTPS with this PEM certificate (chain) and private key; both or neither.
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        for name in ("tls_cert", "tls_key"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        if self.token_lifetime <= 0:
            raise ValueError("token_lifetime must be positive")
        if not self.client_id:
            raise ValueError("client_id must not be empty")
        if self.state_file is not None and not isinstance(self.state_file, Path):
            object.__setattr__(self, "state_file", Path(self.state_file))
