"""Settings of the onboarding pipeline, read at task run time from one Airflow Variable.

The Variable ``avepoint_onboarding`` (JSON, optional) may set any field of
:class:`OnboardingSettings`; missing fields keep their defaults. Connection ids and
the pool are fixed by the contract.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from include.onboarding.names import POOL as POOL  # re-exported: the pool is part of the settings

VARIABLE = "avepoint_onboarding"
AVEPOINT_CONN_ID = "avepoint_default"
WAREHOUSE_CONN_ID = "customer_warehouse"
AIRFLOW_API_CONN_ID = "airflow_api"
SMTP_CONN_ID = "smtp_default"

# What may set off an alert: the statuses needing a human, a run stopped on a configuration
# error, and drift found by the reconciliation DAG. The default is all of them.
ALERT_REASONS = ("invalid", "rejected", "conflict", "failed", "stopped", "drift")


@dataclass(frozen=True)
class OnboardingSettings:
    """Tunables; see the README's configuration section."""

    table: str = "customer_onboarding"
    # Where the events, alerts and drift tables live, if not beside the table (issue 20).
    operations_schema: str | None = None
    max_attempts: int = 5
    claim_timeout_minutes: float = 60.0
    alert_emails: tuple[str, ...] = ()
    alert_slack_conn_id: str | None = None
    alert_on: tuple[str, ...] = ALERT_REASONS
    drift_acknowledged: tuple[str, ...] = ()

    @property
    def claim_timeout(self) -> timedelta:
        return timedelta(minutes=self.claim_timeout_minutes)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any] | None) -> OnboardingSettings:
        """Settings from the Variable's JSON object; ValueError names what is wrong, never a value."""
        if raw is not None and not isinstance(raw, dict):
            raise ValueError(f'Variable {VARIABLE!r} must be a JSON object, such as {{"max_attempts": 5}}')
        raw = dict(raw or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ValueError(f"Variable {VARIABLE!r}: unknown setting(s) {unknown}; known: {sorted(known)}")
        try:
            settings = cls(
                table=str(raw.get("table", cls.table)),
                operations_schema=str(raw["operations_schema"]) if raw.get("operations_schema") else None,
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
        _check_table_name(settings.table, settings.operations_schema)
        return _with_alert_settings(settings, raw)

    @classmethod
    def from_json(cls, text: str | None) -> OnboardingSettings:
        """Settings from the Variable's text (None: no Variable, the defaults)."""
        if text is None or not text.strip():
            return cls()
        try:
            raw = json.loads(text)
        except ValueError as exc:
            # The decoder's message names the position, not the text.
            raise ValueError(f"Variable {VARIABLE!r} is not valid JSON: {exc}") from None
        return cls.from_mapping(raw)

    @classmethod
    def load(cls) -> OnboardingSettings:
        """Read the Variable (inside a task only: it is an API call).

        A malformed Variable is a configuration error, not a passing fault: the task fails at once
        (``AirflowFailException``, no retries with backoff) with the message saying what to fix.
        Its text is read as is and parsed here: ``Variable.get(deserialize_json=True)`` returns the
        default for text that is not JSON, which would run with defaults instead of failing.
        """
        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowFailException

        try:
            return cls.from_json(Variable.get(VARIABLE, default=None))
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from None


def _check_table_name(table: str, operations_schema: str | None = None) -> None:
    """The table name's (and operations schema's) syntax, as every dialect requires it (a dialect's
    own limits are checked when the warehouse is reached)."""
    from include.onboarding.warehouse import TableName

    try:
        TableName.parse(table, dialect="any")
        if operations_schema is not None:
            TableName.schema_only(operations_schema, dialect="any")
    except ValueError as exc:
        raise ValueError(f"Variable {VARIABLE!r}: {exc}") from None


# -- alert settings (include/onboarding/alerts.py) ---------------------------------------------------


def _with_alert_settings(settings: OnboardingSettings, raw: dict[str, Any]) -> OnboardingSettings:
    """Add the optional alert keys; a malformed one is a configuration error named in plain words."""
    from dataclasses import replace

    emails = _string_list(raw.get("alert_emails"), "alert_emails")
    slack = raw.get("alert_slack_conn_id")
    if slack is not None and (not isinstance(slack, str) or not slack.strip()):
        raise ValueError(f"Variable {VARIABLE!r}: alert_slack_conn_id must be a connection id (text)")
    alert_on = ALERT_REASONS if raw.get("alert_on") is None else _string_list(raw["alert_on"], "alert_on")
    unknown = sorted(set(alert_on) - set(ALERT_REASONS))
    if unknown:
        raise ValueError(
            f"Variable {VARIABLE!r}: alert_on has unknown value(s) {unknown}; known: {list(ALERT_REASONS)}"
        )
    if any("@" not in e for e in emails):
        raise ValueError(f"Variable {VARIABLE!r}: every alert_emails entry must be an e-mail address")
    return replace(
        settings,
        alert_emails=tuple(emails),
        alert_slack_conn_id=slack.strip() if slack else None,
        alert_on=tuple(alert_on),
        # Customer keys and AvePoint ids whose drift findings stay quiet (include/onboarding/reconciliation.py).
        drift_acknowledged=tuple(_string_list(raw.get("drift_acknowledged"), "drift_acknowledged")),
    )


def _string_list(value: Any, name: str) -> list[str]:
    """A list of non-blank strings; one string (comma-separated) is accepted too."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"Variable {VARIABLE!r}: {name} must be a list of strings")
    return [v.strip() for v in value if v.strip()]
