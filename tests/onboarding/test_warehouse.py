"""The warehouse on every engine: claim selection, atomicity, attempts, outcomes, recovery."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from queue import Queue

import pytest

from include.onboarding.dialects import DIALECTS
from include.onboarding.warehouse import CustomerWarehouse, TableName
from tests.support.rows import make_customer, run_sql
from tests.support.warehouses import ALL_ENGINES, empty_warehouse

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(params=ALL_ENGINES)
def warehouse(request, tmp_path, monkeypatch):
    """An empty warehouse on each of the four engines (the lifecycle is the same code on all)."""
    return empty_warehouse(request.param, request, tmp_path, monkeypatch)


def load(store: CustomerWarehouse, *keys: str, at: datetime = T0) -> None:
    store.add_customers(
        [
            make_customer(k, domain="x.example", requested_at=at + timedelta(minutes=i))
            for i, k in enumerate(keys)
        ]
    )


def load_at_once(store: CustomerWarehouse, keys: list[str]) -> None:
    """Pending rows in one INSERT statement (the emulator is slow per statement, not per row)."""
    columns = ("customer_key", "first_name", "last_name", "organization_name", "registration_account",
               "country_code", "data_center", "password", "status", "attempts", "requested_at")  # fmt: skip
    values, params = [], {}
    for i, key in enumerate(keys):
        row = make_customer(key, status="pending", attempts=0, requested_at=store._timestamp(T0))
        values.append("(" + ", ".join(f":{c}_{i}" for c in columns) + ")")
        params |= {f"{c}_{i}": row[c] for c in columns}
    run_sql(store, f"INSERT INTO {store.table} ({', '.join(columns)}) VALUES {', '.join(values)}", params)


def claim(store: CustomerWarehouse, run_id: str = "run-1", end: datetime = T0 + HOUR, **kwargs) -> list[str]:
    kwargs.setdefault("limit", 100)
    kwargs.setdefault("claim_timeout", HOUR)
    return store.claim(run_id=run_id, interval_end=end, **kwargs)


def statuses(store: CustomerWarehouse, *keys: str) -> dict[str, str]:
    return {r["customer_key"]: r["status"] for r in store.rows(list(keys))}


def test_claim_takes_pending_rows_requested_before_the_interval_end_oldest_first(warehouse):
    load(warehouse, "B", "A", "C")
    load(warehouse, "LATE", at=T0 + 2 * HOUR)
    assert claim(warehouse, limit=2) == ["B", "A"]
    assert statuses(warehouse, "A", "B", "C", "LATE") == {
        "A": "in_progress",
        "B": "in_progress",
        "C": "pending",
        "LATE": "pending",
    }
    rows = {r["customer_key"]: r for r in warehouse.rows(["A"])}
    assert rows["A"]["status_reason"] == "claimed by run run-1"


def test_claim_skips_final_and_fresh_in_progress_rows_but_takes_stale_ones(warehouse):
    load(warehouse, "P", "R", "DONE", "FRESH", "STALE")
    claim(warehouse, run_id="old", keys=["STALE"])
    claim(warehouse, run_id="other", keys=["FRESH"])
    run_sql(warehouse, f"UPDATE {warehouse.table} SET status = 'retry' WHERE customer_key = 'R'")
    claim(warehouse, run_id="done", keys=["DONE"])
    warehouse.record_outcome("DONE", "done", status="onboarded", reason="ok", attempt=1, try_number=1)
    # Make STALE's claim older than the claim timeout.
    stale_at = warehouse._timestamp(datetime.now(UTC) - 2 * HOUR)
    run_sql(
        warehouse,
        f"UPDATE {warehouse.table} SET claimed_at = :t WHERE customer_key = 'STALE'",
        {"t": stale_at},
    )

    assert sorted(claim(warehouse, run_id="new")) == ["P", "R", "STALE"]
    row = warehouse.row_state("STALE")
    assert row["claimed_by"] == "new" and row["previous_status"] == "pending"


def test_claim_by_keys_and_preview_changes_nothing(warehouse):
    load(warehouse, "A", "B", "C")
    assert warehouse.preview_claim(
        run_id="run-1", interval_end=T0 + HOUR, limit=100, claim_timeout=HOUR, keys=["C", "A", "NOPE"]
    ) == ["A", "C"]
    assert set(statuses(warehouse, "A", "B", "C").values()) == {"pending"}
    assert claim(warehouse, keys=["C"]) == ["C"]


def test_attempt_is_counted_before_sending_and_only_while_held(warehouse):
    load(warehouse, "A")
    claim(warehouse)
    row = warehouse.begin_attempt("A", "run-1")
    assert row["attempts"] == 1 and row["password"] == "Secret-A-Pw1!"
    assert warehouse.begin_attempt("A", "someone-else") is None
    assert warehouse.row_state("A")["attempts"] == 1


def test_onboarded_outcome_erases_the_password_and_writes_an_event(warehouse):
    load(warehouse, "A", "B")
    claim(warehouse)
    for key in ("A", "B"):
        warehouse.begin_attempt(key, "run-1")
    assert warehouse.record_outcome(
        "A",
        "run-1",
        status="onboarded",
        reason="created",
        attempt=1,
        try_number=1,
        customer_id="id-1",
        api_status=1,
    )
    warehouse.record_outcome(
        "B", "run-1", status="retry", reason="503", attempt=1, try_number=1, http_status=503
    )
    passwords = dict(run_sql(warehouse, f"SELECT customer_key, password FROM {warehouse.table}"))
    events = run_sql(
        warehouse,
        f"SELECT customer_key, outcome, http_status, api_status, attempt FROM {warehouse.events_table} ORDER BY event_id",
    )
    assert passwords == {"A": None, "B": "Secret-B-Pw1!"}
    assert events == [("A", "onboarded", None, 1, 1), ("B", "retry", 503, None, 1)]
    state = warehouse.row_state("A")
    assert (state["status"], state["avepoint_customer_id"], state["api_status"]) == ("onboarded", "id-1", 1)
    # A run that no longer holds the row cannot overwrite it.
    assert not warehouse.record_outcome("A", "run-1", status="retry", reason="late", attempt=2, try_number=2)
    assert warehouse.row_state("A")["status"] == "onboarded"


def test_release_restores_the_previous_status(warehouse):
    load(warehouse, "P", "R")
    run_sql(
        warehouse, f"UPDATE {warehouse.table} SET status = 'retry', attempts = 2 WHERE customer_key = 'R'"
    )
    claim(warehouse)
    warehouse.begin_attempt("R", "run-1")
    warehouse.release_row("R", "run-1", reason="401", undo_attempt=True, stop_message="AuthError: 401")
    warehouse.release_run("run-1", reason="run stopped")
    assert statuses(warehouse, "P", "R") == {"P": "pending", "R": "retry"}
    assert warehouse.row_state("R")["attempts"] == 2
    assert warehouse.stop_reason("run-1") == "AuthError: 401"
    assert warehouse.stop_reason("run-2") is None


def test_recover_unfinished_sets_retry_or_failed_past_max_attempts(warehouse):
    load(warehouse, "A", "B", "C")
    claim(warehouse)
    warehouse.begin_attempt("A", "run-1")
    run_sql(warehouse, f"UPDATE {warehouse.table} SET attempts = 5 WHERE customer_key = 'B'")
    warehouse.record_outcome("C", "run-1", status="onboarded", reason="ok", attempt=1, try_number=1)
    assert warehouse.recover_unfinished("run-1", reason="task died", max_attempts=5) == 2
    assert warehouse.status_counts("run-1") == {"retry": 1, "failed": 1, "onboarded": 1}
    assert statuses(warehouse, "A", "B") == {"A": "retry", "B": "failed"}


def test_recovered_rows_are_still_counted_by_a_retried_finish(warehouse):
    """The failed-run signal survives retries: a second call recovers nothing but still counts."""
    load(warehouse, "A")
    claim(warehouse)
    assert warehouse.recover_unfinished("run-1", reason="task died", max_attempts=5) == 1
    assert warehouse.recover_unfinished("run-1", reason="task died", max_attempts=5) == 1
    assert warehouse.recover_unfinished("run-2", reason="task died", max_attempts=5) == 0


def test_invalid_rows_and_onboarded_accounts(warehouse):
    load(warehouse, "A", "B")
    claim(warehouse)
    warehouse.mark_invalid("run-1", {"A": "country_code is not valid"})
    warehouse.record_outcome("B", "run-1", status="onboarded", reason="ok", attempt=1, try_number=1)
    assert warehouse.row_state("A")["status_reason"] == "country_code is not valid"
    assert warehouse.onboarded_accounts(["B@x.example", "a@x.example"]) == {"b@x.example"}
    human = warehouse.needing_human("run-1")
    assert [(r["customer_key"], r["status"]) for r in human] == [("A", "invalid")]


def test_password_profiles_never_return_the_password(warehouse):
    warehouse.add_customers(
        [
            make_customer("A"),
            make_customer("B", password="   "),
            make_customer("C", password=None),
        ]
    )
    profiles = warehouse.password_profiles(["A", "B", "C"])
    assert not any("Secret" in str(v) for v in profiles.values())
    assert (profiles["A"]["password_length"], bool(profiles["A"]["password_missing"])) == (
        len("Secret-A-Pw1!"),
        False,
    )
    assert profiles["B"]["password_trimmed_length"] == 0
    assert bool(profiles["C"]["password_missing"])


def test_table_names_are_identifiers_only():
    assert (
        TableName.parse("analytics.customer_onboarding", DIALECTS["sqlite"]).quoted
        == '"analytics"."customer_onboarding"'
    )
    for bad in ('x"; DROP TABLE y; --', "a.b.c", "1table", ""):
        with pytest.raises(ValueError, match="identifier"):
            TableName.parse(bad, DIALECTS["sqlite"])


def test_postgres_table_names_fold_to_lower_case_as_unquoted_identifiers():
    assert (
        TableName.parse("crm.Customer_Onboarding", DIALECTS["postgresql"]).quoted
        == '"crm"."customer_onboarding"'
    )


def test_index_names_of_long_table_names_stay_unique_within_63_bytes():
    a = TableName.parse("c" * 40 + "_onboarding_a", DIALECTS["postgresql"])
    b = TableName.parse("c" * 40 + "_onboarding_b", DIALECTS["postgresql"])
    names = {t.index_name(s) for t in (a, b) for s in ("status", "claimed_by", "claimable", "events_key")}
    assert len(names) == 8
    assert all(len(n.strip('"').encode()) <= 63 for n in names)


def test_a_table_name_too_long_for_its_events_table_is_refused():
    with pytest.raises(ValueError, match="too long"):
        TableName.parse("t" * 60, DIALECTS["postgresql"])


# -- two claimers at once never share a row ---------------------------------------------------------


def _claim_in_loop(run_id: str, queue: Queue, start: threading.Barrier) -> None:
    """Claim 7 rows at a time until no row waits (a claim may get fewer while racing on Snowflake)."""
    store = CustomerWarehouse("customer_warehouse")  # a claimer of its own: its own engine and connections
    store.engine.connect().close()  # connect before the start signal, so all claimers race
    start.wait(timeout=120)
    taken: list[str] = []
    while True:
        got = store.claim(run_id=run_id, interval_end=T0 + 10 * HOUR, limit=7, claim_timeout=HOUR)
        taken += got
        if not got and not store.status_counts().get("pending"):
            break
    queue.put((run_id, taken))


@pytest.mark.integration
def test_concurrent_claimers_never_share_a_row(warehouse):
    """Four claimers claim in a loop from one barrier: every row is taken exactly once.

    Each claimer has its own engine and connections, so the database sees four concurrent
    transactions as from four workers; threads rather than processes, since that is all the
    database can tell apart (and the Snowflake emulator lives in this process).
    """
    # The emulator spends a third of a second on every statement: fewer rows there.
    rows = 60 if warehouse.dialect.name == "snowflake" else 400
    load_at_once(warehouse, [f"K{i:04d}" for i in range(rows)])
    queue, start = Queue(), threading.Barrier(4)
    workers = [
        threading.Thread(target=_claim_in_loop, args=(f"run-{n}", queue, start), daemon=True)
        for n in range(4)
    ]
    for worker in workers:
        worker.start()
    results = dict(queue.get(timeout=180) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)

    claimed = [key for keys in results.values() for key in keys]
    assert len(claimed) == len(set(claimed)), "a row was claimed by two runs"
    assert len(claimed) == rows
    for run_id, keys in results.items():
        assert all(warehouse.row_state(k)["claimed_by"] == run_id for k in keys)


@pytest.mark.integration
def test_a_claim_beside_an_uncommitted_claim_takes_other_rows(warehouse):
    """Run A's claim is still uncommitted while run B claims: B never gets A's rows.

    PostgreSQL and MariaDB skip A's locked rows at once; SQLite makes B wait for A's commit, and
    so does Snowflake (its DML on one table is serialised; the emulator reports a write conflict,
    on which the claim runs again until A has committed). Either way the two claims overlap in
    time by construction, not by chance.
    """
    from sqlalchemy import text

    load(warehouse, *[f"K{i:02d}" for i in range(10)])
    params = warehouse._claim_params("run-A", T0 + HOUR, 4, HOUR, ())
    b_result: list[str] = []
    b_thread = threading.Thread(
        target=lambda: b_result.extend(claim(warehouse, run_id="run-B", limit=4)), daemon=True
    )
    with warehouse.transaction() as tx:
        a_keys = [r["customer_key"] for r in warehouse._claim_rows(tx, params)]
        b_thread.start()
        b_thread.join(timeout=5)
        finished_while_a_open = not b_thread.is_alive()
    b_thread.join(timeout=60)
    assert not b_thread.is_alive()
    assert a_keys == ["K00", "K01", "K02", "K03"]
    assert b_result == ["K04", "K05", "K06", "K07"]
    # SKIP LOCKED answers without waiting; SQLite's single writer and Snowflake's serialised DML wait.
    assert finished_while_a_open == (warehouse.dialect.name in ("postgresql", "mysql"))
    with warehouse.engine.connect() as connection:
        assert (
            connection.execute(
                text(f"SELECT COUNT(*) FROM {warehouse.table} WHERE claimed_by = 'run-A'")
            ).scalar()
            == 4
        )


# -- SQLite: requested_at in other spellings ------------------------------------------------------


def _set_requested_at(store: CustomerWarehouse, key: str, value: str) -> None:
    run_sql(
        store, f"UPDATE {store.table} SET requested_at = :v WHERE customer_key = :k", {"v": value, "k": key}
    )


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
@pytest.mark.parametrize("spelling", ["2026-11-27T08:00:00+0000", "2026-11-27 08:00:00 UTC"])
def test_sqlite_requested_at_in_other_iso_spellings_is_claimed_by_a_run_ending_after_it(warehouse, spelling):
    """SQLite's date functions read neither "+0000" nor " UTC": such a row must still be claimed."""
    load(warehouse, "A")
    _set_requested_at(warehouse, "A", spelling)
    at = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert claim(warehouse, run_id="ends-at-it", end=at) == []
    assert claim(warehouse, run_id="ends-after-it", end=at + timedelta(seconds=1)) == ["A"]


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "unreadable",
    ["next tuesday", "2026-13-45", "Nov 27 2026 8am", "27/11/2026 08:00", "2026-11-27 25:00:00+00:00"],
)
def test_sqlite_unreadable_requested_at_becomes_invalid_naming_the_column(warehouse, unreadable):
    """A value that is not an ISO-8601 date and time is invalid with a reason, not left waiting forever."""
    load(warehouse, "A", "OK")
    _set_requested_at(warehouse, "A", unreadable)
    assert claim(warehouse, end=datetime(2100, 1, 1, tzinfo=UTC)) == ["OK"]
    state = warehouse.row_state("A")
    assert state["status"] == "invalid"
    assert state["status_reason"].startswith("requested_at is not a date and time this pipeline can read")
    assert unreadable not in state["status_reason"]


# -- keys and text that must not be passed on ---------------------------------------------------------

KEY_CONTROL = (
    "customer_key contains control or invisible characters (such as NUL or a right-to-left override)"
)


def test_a_key_with_control_characters_is_invalid_at_claim_and_never_returned(warehouse):
    """Keys go into XCom (a NUL cannot be stored in PostgreSQL's JSON) and logs: such a row stops at the claim."""
    from include.onboarding.rules import printable

    bad = ["BAD\u0085KEY", "BAD\u202eKEY", "BAD\U000e0041KEY"]
    if warehouse.dialect.name == "sqlite":
        bad.append("BAD\x00KEY")  # PostgreSQL refuses NUL in text
    load(warehouse, "OK", *bad)

    assert warehouse.preview_claim(run_id="dry", interval_end=T0 + HOUR, limit=100, claim_timeout=HOUR) == [
        "OK"
    ]
    assert claim(warehouse) == ["OK"]

    for key in bad:
        state = warehouse.row_state(key)
        assert (state["status"], state["claimed_by"], state["status_reason"]) == (
            "invalid",
            "run-1",
            KEY_CONTROL,
        )
    events = run_sql(warehouse, f"SELECT customer_key, outcome FROM {warehouse.events_table}")
    assert sorted(events) == sorted((key, "invalid") for key in bad)
    # What the run's summary shows (its note, its XCom) has the characters escaped.
    shown = sorted(r["customer_key"] for r in warehouse.needing_human("run-1"))
    assert shown == sorted(printable(key) for key in bad)
    assert all("\\u" in key and key.isprintable() for key in shown)


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_sqlite_text_that_is_not_utf8_is_never_decoded(warehouse):
    """What the sqlite3 CLI's .import of a Windows-1252 CSV stores: b"Jos\\xe9" as TEXT.

    Reading it must not raise (the driver's error quotes the text); the row's column is named, the
    value never shown; a key like that is never passed on.
    """
    from include.onboarding.text import Undecodable, undecodable_columns

    load(warehouse, "OK", "PW", "FN", "KEY")
    for key, column in (("PW", "password"), ("FN", "first_name"), ("KEY", "customer_key")):
        run_sql(warehouse, f"UPDATE {warehouse.table} SET {column} = CAST(X'4A6F73E9' AS TEXT) "
                           "WHERE customer_key = :k", {"k": key})  # fmt: skip

    assert claim(warehouse) == ["OK", "PW", "FN"]
    key_row = run_sql(
        warehouse,
        f"SELECT status, claimed_by, status_reason FROM {warehouse.table} "
        "WHERE customer_key = CAST(X'4A6F73E9' AS TEXT)",
    )
    assert key_row == [("invalid", "run-1", "customer_key is not valid UTF-8 text (re-import the data as UTF-8; "
                                            "the value is not shown)")]  # fmt: skip
    [shown] = warehouse.needing_human("run-1")
    assert shown["customer_key"] == "(not valid UTF-8)"

    rows = {r["customer_key"]: r for r in warehouse.claimed_rows("run-1")}
    assert {k: undecodable_columns(r) for k, r in rows.items()} == {"OK": [], "PW": [], "FN": ["first_name"]}
    assert isinstance(rows["FN"]["first_name"], Undecodable) and rows["FN"]["first_name"] == ""

    # The password is read only to be sent: the attempt is refused and taken back, the row invalid.
    assert warehouse.begin_attempt("PW", "run-1") is None
    state = warehouse.row_state("PW")
    assert (state["status"], state["attempts"]) == ("invalid", 0)
    assert (
        state["status_reason"]
        == "password is not valid UTF-8 text (re-import the data as UTF-8; the value is not shown)"
    )


def test_a_failing_statement_quotes_no_row_value(warehouse):
    """A driver error may quote the row (PostgreSQL's "Failing row contains (...)", SQLAlchemy's
    [parameters: ...]): what the warehouse raises names the statement and the broken rule only."""
    with pytest.raises(Exception) as raised:  # noqa: PT011 - which type is asserted last
        warehouse.add_customers([make_customer("NULLNAME", first_name=None, password="Leaky-Secret-Pw-1")])
    message = str(raised.value)
    assert "Leaky-Secret-Pw-1" not in message and "NULLNAME" not in message
    assert "add_customers" in message and "first_name" in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert type(raised.value).__name__ == "WarehouseError"
