"""Fault decisions: scripted actions, seeded random draws and the token bucket.

A fault either replaces the request (``processed`` False: the backend never
acted) or replaces only the answer after the backend acted (``processed``
True: the ambiguous cases a client must reconcile through the list endpoint).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from avepoint_sandbox.config import FaultSettings

REJECT_STATUSES = frozenset({429, 500, 502, 503, 504})
SCRIPT_STATUSES = frozenset({2, 3, 4})
SCRIPT_KEYS = ("http_status", "status", "lost", "hang", "malformed")


@dataclass(frozen=True)
class FaultAction:
    """One decided fault.

    ``kind``: ``reject`` (answer ``http_status``), ``rate_limited`` (the token
    bucket's 429), ``status`` (HTTP 200 with API
    status ``status``), ``hang`` (wait ``seconds``, then close), ``lost`` (process,
    then answer 500 or drop per ``mode``), ``malformed`` (``mode`` html or
    truncated: processed; status42: not processed).
    """

    kind: str
    http_status: int | None = None
    retry_after: int | None = None
    status: int | None = None
    mode: str | None = None
    seconds: float | None = None

    @property
    def processed(self) -> bool:
        """Whether the backend acts on the request before this fault hits the answer."""
        if self.kind == "lost":
            return True
        return self.kind == "malformed" and self.mode in ("html", "truncated")

    @property
    def label(self) -> str:
        """The ``faults_injected`` counter this fault increments."""
        if self.kind == "reject":
            return str(self.http_status)
        if self.kind == "rate_limited":
            return "rate_limited"
        if self.kind == "status":
            return f"status_{self.status}"
        if self.kind == "hang":
            return "timeout"
        return f"{self.kind}_{self.mode}"


@dataclass(frozen=True)
class Draw:
    """The uniform numbers drawn, always all of them and in this order, for one request.

    Drawing a fixed vector keeps a seeded run reproducible whatever the
    settings: request N always sees the same numbers.
    """

    u429: float
    u500: float
    u503: float
    timeout: float
    lost: float
    malformed: float
    lost_mode: float
    malformed_mode: float
    jitter: float

    @classmethod
    def from_rng(cls, rng: random.Random) -> Draw:
        return cls(*(rng.random() for _ in range(9)))


def random_fault(settings: FaultSettings, draw: Draw) -> FaultAction | None:
    """The random fault ``draw`` selects under ``settings``; a rate of 1.0 always fires, 0 never."""
    if draw.u429 < settings.rate_429:
        return FaultAction("reject", http_status=429, retry_after=settings.retry_after)
    if draw.u500 < settings.error_rate_500:
        return FaultAction("reject", http_status=500)
    if draw.u503 < settings.error_rate_503:
        return FaultAction("reject", http_status=503)
    if draw.timeout < settings.timeout_rate:
        return FaultAction("hang", seconds=settings.hang_seconds)
    if draw.lost < settings.lost_response_rate:
        mode = settings.lost_response_mode
        if mode == "mixed":
            mode = "500" if draw.lost_mode < 0.5 else "drop"
        return FaultAction("lost", mode=mode)
    if draw.malformed < settings.malformed_rate:
        mode = settings.malformed_mode
        if mode == "mixed":
            mode = ("html", "truncated", "status42")[min(2, int(draw.malformed_mode * 3))]
        return FaultAction("malformed", mode=mode)
    return None


def parse_script_action(raw: Any, default_retry_after: int) -> FaultAction:
    """One scripted action from its JSON form; ValueError says what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("each action must be a JSON object")
    keys = [key for key in SCRIPT_KEYS if key in raw]
    extra = set(raw) - set(SCRIPT_KEYS) - {"retry_after"}
    if len(keys) != 1 or extra:
        raise ValueError(f"each action needs exactly one of {', '.join(SCRIPT_KEYS)}")
    key = keys[0]
    value = raw[key]
    if "retry_after" in raw and not (key == "http_status" and value == 429):
        raise ValueError("retry_after only goes with http_status 429")
    if key == "http_status":
        if not _is_int(value) or value not in REJECT_STATUSES:
            raise ValueError("http_status must be one of 429, 500, 502, 503, 504")
        retry_after = None
        if value == 429:
            retry_after = raw.get("retry_after", default_retry_after)
            if not _is_int(retry_after) or retry_after < 0:
                raise ValueError("retry_after must be a whole number of seconds")
        return FaultAction("reject", http_status=value, retry_after=retry_after)
    if key == "status":
        if not _is_int(value) or value not in SCRIPT_STATUSES:
            raise ValueError("status must be 2, 3 or 4")
        return FaultAction("status", status=value)
    if key == "lost":
        if value not in ("500", "drop"):
            raise ValueError('lost must be "500" or "drop"')
        return FaultAction("lost", mode=value)
    if key == "hang":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
            raise ValueError("hang must be a non-negative number of seconds")
        return FaultAction("hang", seconds=float(value))
    if value not in ("html", "truncated", "status42"):
        raise ValueError('malformed must be "html", "truncated" or "status42"')
    return FaultAction("malformed", mode=value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class TokenBucket:
    """A classic token bucket; not thread-safe (the sandbox state's lock guards it)."""

    def __init__(self, rate: float, size: float, now: float) -> None:
        self.rate = rate
        self.size = size
        self.tokens = size
        self.updated = now

    def take(self, now: float) -> int | None:
        """Take one token; None when granted, else the whole seconds until one is available (>= 1)."""
        self.tokens = min(self.size, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1, math.ceil((1 - self.tokens) / self.rate))
