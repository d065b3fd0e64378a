"""The avepoint_onboarding Variable: a configuration error fails the task at once, saying what is wrong."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include.onboarding.config import VARIABLE, OnboardingSettings


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"tabel": "crm.customers"}', "unknown setting(s) ['tabel']"),
        ('{"max_attempts": "many"}', "max_attempts and claim_timeout_minutes must be numbers"),
        ('{"claim_timeout_minutes": 0}', "must be positive"),
        ('{"alert_on": ["everything"]}', "alert_on has unknown value(s) ['everything']"),
        ('{"table": "customers; DROP TABLE x"}', "must be an identifier"),
        ('{"table": "customer_onboarding\\n"}', "must be an identifier"),
        ('["table", "customers"]', "must be a JSON object"),
        ("{table: customers}", "is not valid JSON"),
    ],
    ids=["unknown-key", "not-a-number", "not-positive", "unknown-alert", "table-sql", "table-newline",
         "not-an-object", "not-json"],
)  # fmt: skip
def test_a_bad_variable_fails_the_task_without_retries(monkeypatch, value, message):
    monkeypatch.setenv(f"AIRFLOW_VAR_{VARIABLE.upper()}", value)
    with pytest.raises(AirflowFailException, match=f"Variable '{VARIABLE}'") as raised:
        OnboardingSettings.load()
    assert message in str(raised.value)


def test_no_variable_is_the_defaults(monkeypatch):
    monkeypatch.delenv(f"AIRFLOW_VAR_{VARIABLE.upper()}", raising=False)
    assert OnboardingSettings.load() == OnboardingSettings()


def test_a_table_name_too_long_for_postgresql_fails_the_task_at_once(monkeypatch):
    """A dialect's own limit is met when the task reaches the warehouse: a configuration error too."""
    from include.onboarding import pipeline
    from tests.conftest import set_connection

    set_connection(
        monkeypatch, "customer_warehouse", conn_type="postgres", host="127.0.0.1", schema="nowhere"
    )
    with pytest.raises(AirflowFailException, match="is too long") as raised:
        pipeline._warehouse(OnboardingSettings(table="c" * 60))
    assert "Variable 'avepoint_onboarding'" in str(raised.value)
