"""Text from the warehouse as it travels: addressed by what is stored, checked for invisible characters,
shown without becoming Markdown, compared by one account identity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.rows import make_customer, run_sql

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def claim(warehouse, run_id: str = "run-1") -> list[str]:
    return warehouse.claim(run_id=run_id, interval_end=T0 + HOUR, limit=100, claim_timeout=HOUR)


# -- a key that is not UTF-8 is addressed by its bytes --------------------------------------------------


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)  # PostgreSQL stores UTF-8 only
def test_a_non_utf8_key_with_an_unreadable_requested_at_is_addressed_by_its_bytes(warehouse):
    """Such a row becomes invalid itself; the row whose key is '' (what the marker compares equal to) is untouched."""
    warehouse.add_customers([make_customer("", registration_account="empty@x.example", requested_at=T0),
                             make_customer("BAD", requested_at=T0)])  # fmt: skip
    run_sql(warehouse, f"UPDATE {warehouse.table} SET customer_key = CAST(X'4BE959' AS TEXT), "
                       "requested_at = 'next tuesday' WHERE customer_key = 'BAD'")  # fmt: skip

    claim(warehouse)

    rows = run_sql(
        warehouse, f"SELECT hex(customer_key), status, status_reason FROM {warehouse.table} ORDER BY 1"
    )
    assert rows == [
        ("", "in_progress", "claimed by run run-1"),
        ("4BE959", "invalid", "requested_at is not a date and time this pipeline can read "
                              "(use ISO-8601, e.g. 2026-11-27 08:00:00+00:00)"),
    ]  # fmt: skip
    events = run_sql(warehouse, f"SELECT hex(customer_key), outcome FROM {warehouse.events_table}")
    assert events == [("4BE959", "invalid")]
