"""The client's retry policy: which failures are retried, how long to wait, when to stop.

Decided on the typed error (itself decided on the HTTP status): 429, 500, 502,
503, 504, timeouts, dropped connections and malformed replies are retried;
400, 401 (after the hook's one token refresh), 403 and 404 never are. Waits
grow exponentially with jitter; a 429's ``Retry-After`` is honoured, capped.
Attempts and total time are both bounded, and so is the time an onboarding call
spends looking a customer up (``lookup_max_elapsed``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import tenacity

from avepoint_provider.errors import AvePointConfigError, AvePointRateLimitedError


def number_from_extra(conn_id: str, extra: dict[str, Any], key: str, default: float) -> float:
    """Read a positive number from a connection's extras, or raise a clear error.

    Missing, ``null`` or blank means the default: the UI's connection form saves a cleared
    field as ``null``.
    """
    value = extra.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        value = default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if number <= 0:
        raise AvePointConfigError(f"connection {conn_id!r}: extra {key!r} must be a positive number")
    return number


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the in-call retries; each is settable in the connection extras (see :meth:`extra_key`)."""

    max_attempts: int = 5
    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    max_elapsed: float = 120.0
    retry_after_cap: float = 60.0
    # Seconds one onboarding call may spend, in all, paging through the customer list to learn
    # whether an ambiguous POST created the customer (at most max_elapsed by default).
    lookup_max_elapsed: float = 60.0

    @staticmethod
    def extra_key(field_name: str) -> str:
        """The connection extra for a field: ``retry_max_attempts``, ..., ``retry_after_cap``,
        ``lookup_max_elapsed``."""
        return field_name if field_name.startswith(("retry_", "lookup_")) else f"retry_{field_name}"

    @classmethod
    def from_extra(cls, extra: dict[str, Any], conn_id: str) -> RetryPolicy:
        values = {
            f.name: number_from_extra(conn_id, extra, cls.extra_key(f.name), f.default) for f in fields(cls)
        }
        values["max_attempts"] = int(values["max_attempts"])
        return cls(**values)

    def wait_seconds(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = error.retry_after if isinstance(error, AvePointRateLimitedError) else None
        if retry_after is not None and retry_after >= 0:  # False for NaN: then the backoff applies
            return min(retry_after, self.retry_after_cap)
        backoff = tenacity.wait_exponential_jitter(
            initial=self.initial_backoff, max=self.max_backoff, jitter=self.initial_backoff
        )
        return backoff(retry_state)

    def retrying(
        self,
        *,
        before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> tenacity.Retrying:
        """A tenacity ``Retrying`` that re-raises the last error once the policy gives up."""
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda exc: getattr(exc, "retryable", False)),
            wait=self.wait_seconds,
            stop=tenacity.stop_after_attempt(self.max_attempts)
            | tenacity.stop_before_delay(self.max_elapsed),
            before_sleep=before_sleep,
            sleep=sleep or time.sleep,
            reraise=True,
        )
