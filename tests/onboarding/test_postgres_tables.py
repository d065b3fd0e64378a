"""PostgreSQL: a user's own table, found as PostgreSQL resolves its name, and prepare()'s lock order."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from include.onboarding.warehouse import CustomerWarehouse
from tests.conftest import set_connection
from tests.support.postgres import postgres_connection
from tests.support.rows import make_customer
from tests.support.user_table import create_user_table, insert_user_rows

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def database(postgres_db, monkeypatch) -> str:
    """A fresh PostgreSQL database as the ``customer_warehouse`` connection; its URL."""
    set_connection(monkeypatch, "customer_warehouse", **postgres_connection(postgres_db))
    return postgres_db


def sql(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def test_a_mixed_case_name_finds_the_table_the_user_created_without_quotes(database):
    """``crm.Customer_Onboarding`` is ``crm.customer_onboarding`` to PostgreSQL; no quoted twin is created."""
    create_user_table(database)
    insert_user_rows(database, [make_customer("MINE", requested_at=datetime(2026, 11, 1))])

    configured = CustomerWarehouse("customer_warehouse", "crm.Customer_Onboarding")
    configured.prepare()
    end = datetime(2026, 11, 2, tzinfo=UTC)
    assert configured.claim(run_id="run-1", interval_end=end, limit=10, claim_timeout=timedelta(hours=1)) == [
        "MINE"
    ]
    tables = sql(database, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'crm'")
    assert sorted(t for (t,) in tables) == ["customer_onboarding", "customer_onboarding_events"]


def test_prepare_locks_the_table_before_the_events_table(database):
    """A release (table row, then its event) runs while prepare() starts: neither deadlocks.

    prepare() takes the customer table's lock first, so it waits behind the release; taking the
    events table first, it would hold what the release needs next while waiting for the table.
    """
    store = CustomerWarehouse("customer_warehouse")
    store.prepare()
    store.add_customers([make_customer("A")])
    errors: list[BaseException] = []

    with psycopg.connect(database) as release:
        # The release's first half: the row (ROW EXCLUSIVE on the customer table), not yet committed.
        release.execute("UPDATE customer_onboarding SET status_reason = 'released' WHERE customer_key = 'A'")

        def prepare() -> None:
            try:
                store.prepare()
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        preparing = threading.Thread(target=prepare, daemon=True)
        preparing.start()
        deadline = time.monotonic() + 20
        while not _waiting_for_a_lock(database):
            assert time.monotonic() < deadline, "prepare() never waited behind the release"
            time.sleep(0.05)
        # Its second half: the event. PostgreSQL reports a deadlock after deadlock_timeout (1 s).
        release.execute(
            "INSERT INTO customer_onboarding_events (customer_key, event_at, outcome) VALUES ('A', now(), 'released')"
        )
        release.commit()
    preparing.join(timeout=30)

    assert not preparing.is_alive()
    assert errors == []


def _waiting_for_a_lock(url: str) -> bool:
    rows = sql(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    return rows[0][0] > 0
