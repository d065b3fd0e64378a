"""Settings of the onboarding pipeline, read at task run time from one Airflow Variable.

The Variable ``avepoint_onboarding`` (JSON, optional) may set any field of
:class:`OnboardingSettings`; missing fields keep their defaults. Connection ids and
the pool are fixed by the contract.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from include.onboarding.names import POOL as POOL  # re-exported: the pool is part of the settings

VARIABLE = "avepoint_onboarding"
AVEPOINT_CONN_ID = "avepoint_default"
WAREHOUSE_CONN_ID = "customer_warehouse"
AIRFLOW_API_CONN_ID = "airflow_api"


@dataclass(frozen=True)
class OnboardingSettings:
    """Tunables; see the README's configuration section."""

    table: str = "customer_onboarding"
    max_attempts: int = 5
    claim_timeout_minutes: float = 60.0

    @property
    def claim_timeout(self) -> timedelta:
        return timedelta(minutes=self.claim_timeout_minutes)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any] | None) -> OnboardingSettings:
        raw = dict(raw or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ValueError(f"Variable {VARIABLE!r}: unknown setting(s) {unknown}; known: {sorted(known)}")
        try:
            settings = cls(
                table=str(raw.get("table", cls.table)),
                max_attempts=int(raw.get("max_attempts", cls.max_attempts)),
                claim_timeout_minutes=float(raw.get("claim_timeout_minutes", cls.claim_timeout_minutes)),
            )
        except (TypeError, ValueError):
            raise ValueError(
                f"Variable {VARIABLE!r}: max_attempts and claim_timeout_minutes must be numbers"
            ) from None
        if settings.max_attempts < 1 or settings.claim_timeout_minutes <= 0:
            raise ValueError(
                f"Variable {VARIABLE!r}: max_attempts and claim_timeout_minutes must be positive"
            )
        return settings

    @classmethod
    def load(cls) -> OnboardingSettings:
        """Read the Variable (inside a task only: it is an API call)."""
        from airflow.sdk import Variable

        return cls.from_mapping(Variable.get(VARIABLE, default=None, deserialize_json=True))
