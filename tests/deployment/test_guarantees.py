"""The contract's guarantees on a real deployment: scheduler + PostgreSQL + the sandbox.

Each scenario drives Airflow as an operator would (REST API, ``airflow backfill create``) and asserts
on the sandbox's inspection data and the warehouse tables. They share one deployment and run in
file order; the secret scan comes last and covers everything the others produced.
Run one alone with e.g. ``pytest -m deployment -k fault_storm``.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import psutil
import pytest

from tests.deployment.conftest import CLAIM_TIMEOUT_MINUTES, DAG_ID, customer
from tools.demo.customers import MISTYPED_CANADA, US_GOV

pytestmark = [pytest.mark.deployment, pytest.mark.postgres]


def accounts(prefix: str, inspect: dict, key: str) -> dict[str, int]:
    return {a: n for a, n in inspect[key].items() if a.startswith(prefix.lower())}


def assert_every_attempt_has_an_event(stack, prefix: str) -> None:
    """Each attempt counted in a row (1..attempts) is recorded in the events table."""
    recorded: dict[str, set[int]] = {}
    for event in stack.events(prefix):
        if event["attempt"] is not None:
            recorded.setdefault(event["customer_key"], set()).add(event["attempt"])
    for key, row in stack.rows(prefix).items():
        assert set(range(1, row["attempts"] + 1)) <= recorded.get(key, set()), (
            f"{key}: attempts without events"
        )


# -- 1. fault storm --------------------------------------------------------------------------------


# Enough customers that every fault kind fires many times over (about 12 of each 10% fault), few
# enough that the storm is not the suite's longest test.
FAULT_STORM_CUSTOMERS = 120


def test_fault_storm_creates_every_customer_exactly_once(stack, faults):
    stack.add([customer(f"FS-{n:03d}") for n in range(FAULT_STORM_CUSTOMERS)])
    faults.set_faults(
        error_rate_500=0.1,
        error_rate_503=0.1,
        rate_429=0.05,
        retry_after=1,
        timeout_rate=0.05,
        hang_seconds=4,
        lost_response_rate=0.1,
        lost_response_mode="mixed",
    )
    for _ in range(4):
        stack.run_dag(timeout=900)
        if not {r["status"] for r in stack.sql_rows("FS-")} & {"pending", "retry", "in_progress"}:
            break
    faults.clear_faults()

    rows = stack.rows("FS-")
    assert {r["status"] for r in rows.values()} == {"onboarded"}
    assert all(r["avepoint_customer_id"] for r in rows.values())
    inspect = stack.control.inspect()
    created = accounts("fs-", inspect, "creations_per_account")
    assert len(created) == FAULT_STORM_CUSTOMERS and set(created.values()) == {1}
    assert accounts("fs-", inspect, "posts_after_creation") == {}
    by_account = {c["ownerEmail"]: c["id"] for c in inspect["customers"]}
    assert all(by_account[r["registration_account"]] == r["avepoint_customer_id"] for r in rows.values())
    injected = inspect["faults_injected"]
    assert injected.get("500", 0) and injected.get("503", 0) and injected.get("429", 0)
    assert injected.get("lost_500", 0) + injected.get("lost_drop", 0) > 0
    assert_every_attempt_has_an_event(stack, "FS-")


# -- 2. killed worker -------------------------------------------------------------------------------


LATENCY_MS = 2500  # below the connection's 3 s timeout, so lookups still answer


def _kill_onboarding_task_mid_call(stack, run_id: str, posts_before: int) -> None:
    """SIGKILL the run's onboarding task process once its POST has reached AvePoint.

    The sandbox counts a request when it arrives and acts on it after its latency, so the
    customer gets created after the client is dead: the ambiguous case.
    """

    def running_ti():
        tis = [t for t in stack.airflow.task_instances(DAG_ID, run_id) if t["task_id"] == "onboard_customer"]
        return next((t for t in tis if t["state"] == "running"), None)

    ti = stack.airflow.wait_until(running_ti, 120, "the onboarding task to run", interval=0.2)
    stack.airflow.wait_until(
        lambda: stack.control.inspect()["requests"]["onboard"] > posts_before, 30, "the POST", interval=0.1
    )
    title = f"airflow worker -- {ti['id']}"
    victims = [p for p in psutil.process_iter(["cmdline"]) if title in " ".join(p.info["cmdline"] or [])]
    assert victims, f"no process titled {title!r}"
    for process in victims:
        os.kill(process.pid, signal.SIGKILL)


def _run_and_kill(stack, faults, key: str) -> str:
    """Start a run for one customer and kill its onboarding task mid-call; returns the run id."""
    stack.add([customer(key)])
    faults.set_faults(latency_ms=LATENCY_MS)
    posts_before = stack.control.inspect()["requests"]["onboard"]
    run_id = stack.airflow.trigger(DAG_ID, conf={"customer_keys": [key]})
    _kill_onboarding_task_mid_call(stack, run_id, posts_before)
    return run_id


def test_killed_worker_is_retried_without_a_second_post(stack, faults):
    run_id = _run_and_kill(stack, faults, "KW-A")
    assert stack.airflow.wait_for_run(DAG_ID, run_id, 300)["state"] == "success"

    row = stack.rows("KW-A")["KW-A"]
    assert row["status"] == "onboarded" and row["attempts"] == 2
    assert "not sent again" in row["status_reason"]
    inspect = stack.control.inspect()
    assert accounts("kw-a", inspect, "posts_per_account") == {"kw-a@deploy.example": 1}
    assert accounts("kw-a", inspect, "creations_per_account") == {"kw-a@deploy.example": 1}


def stale_after_seconds(stack, monkeypatch) -> float:
    """The claim timeout runs use: the configured one, raised to outlast one call to AvePoint."""
    from avepoint_provider.hooks.avepoint import AvePointHook
    from include.onboarding.claim_timing import effective_claim_timeout
    from tests.conftest import set_connection

    set_connection(monkeypatch, "avepoint_default", **stack.airflow.connections["avepoint_default"])
    configured = timedelta(minutes=CLAIM_TIMEOUT_MINUTES)
    return effective_claim_timeout(configured, AvePointHook("avepoint_default")).total_seconds()


def test_killed_worker_in_a_failed_run_is_taken_back_after_the_claim_timeout(stack, faults, monkeypatch):
    stale_after = stale_after_seconds(stack, monkeypatch)
    run_id = _run_and_kill(stack, faults, "KW-B")
    stack.airflow.set_run_state(DAG_ID, run_id, "failed")  # an operator stops the run: nothing finishes it
    faults.clear_faults()
    assert stack.rows("KW-B")["KW-B"]["status"] == "in_progress"
    (heartbeat,) = stack.query(f"SELECT claimed_at FROM {stack.warehouse.table} WHERE customer_key = 'KW-B'")[
        0
    ]
    stale_at = heartbeat + timedelta(seconds=stale_after)

    # Before the claim timeout the row is not taken.
    run_id, state = stack.run_dag(customer_keys=["KW-B"])
    assert state == "success"
    claim_ti = next(
        t for t in stack.airflow.task_instances(DAG_ID, run_id) if t["task_id"] == "claim_customers"
    )
    claimed_before = datetime.fromisoformat(claim_ti["end_date"])
    assert claimed_before < stale_at, (
        f"precondition: the second run claimed at {claimed_before}, after the claim went stale at "
        f"{stale_at}; this machine is too slow for a claim timeout of {stale_after:.0f} s"
    )
    assert stack.rows("KW-B")["KW-B"]["status"] == "in_progress"

    time.sleep(max((stale_at - datetime.now(UTC)).total_seconds(), 0) + 1)
    _, state = stack.run_dag(customer_keys=["KW-B"])
    assert state == "success"
    row = stack.rows("KW-B")["KW-B"]
    assert row["status"] == "onboarded" and "not sent again" in row["status_reason"]
    inspect = stack.control.inspect()
    assert accounts("kw-b", inspect, "posts_per_account") == {"kw-b@deploy.example": 1}


# -- 3. overlapping runs ----------------------------------------------------------------------------


OVERLAP_CUSTOMERS = 100


def test_a_backfill_beside_a_manual_run_never_shares_a_row(stack):
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    # Requested over 3 h 45 min from the window's start, so each backfill run has rows of its own.
    spacing = timedelta(minutes=225) / OVERLAP_CUSTOMERS
    stack.add(
        [
            customer(f"OV-{n:03d}", requested_at=now - timedelta(hours=5) + n * spacing)
            for n in range(OVERLAP_CUSTOMERS)
        ]
    )
    start, end = now - timedelta(hours=5), now - timedelta(hours=1)
    stack.airflow.airflow(
        "backfill", "create", "--dag-id", DAG_ID, "--from-date", start.isoformat(), "--to-date", end.isoformat(),
        "--max-active-runs", "4", "--reprocess-behavior", "none",
    )  # fmt: skip
    # Every row falls inside the backfill's window (the schedule's runs cover rows requested before their
    # logical date), and the manual run may take at most a third of them, oldest first. Whichever run
    # claims first takes only part of the rows (the backfill's last run, the only one that could take
    # all, waits behind its first four), so the rows are always split between runs beside each other.
    manual_run = stack.airflow.trigger(DAG_ID, conf={"max_customers": OVERLAP_CUSTOMERS // 3})

    def all_finished():
        runs = [
            r
            for r in stack.airflow.runs(DAG_ID)
            if r["run_type"] == "backfill" or r["dag_run_id"] == manual_run
        ]
        return len(runs) >= 2 and all(r["state"] in ("success", "failed") for r in runs)

    stack.airflow.wait_until(all_finished, 900, "the backfill and the manual run", interval=3)

    rows = stack.rows("OV-")
    assert {r["status"] for r in rows.values()} == {"onboarded"}
    runs_per_row: dict[str, set[str]] = {}
    for event in stack.events("OV-"):
        runs_per_row.setdefault(event["customer_key"], set()).add(event["run_id"])
    assert all(len(r) == 1 for r in runs_per_row.values()), "a row was handled by two runs"
    rows_per_run = Counter(run for r in runs_per_row.values() for run in r)
    assert len(rows_per_run) >= 2, f"the rows should be split between the runs: {dict(rows_per_run)}"
    inspect = stack.control.inspect()
    assert set(accounts("ov-", inspect, "posts_per_account").values()) == {1}
    assert len(accounts("ov-", inspect, "creations_per_account")) == OVERLAP_CUSTOMERS


# -- 4. outage and backfill ---------------------------------------------------------------------------


def test_an_outage_fails_runs_untouched_and_a_backfill_drains_the_backlog(stack, faults):
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    window = [now - timedelta(hours=h) for h in (11, 10)]
    stack.add(
        [customer(f"OUT-{n:02d}", requested_at=window[n % 2] - timedelta(minutes=30)) for n in range(30)]
    )
    before = stack.rows("OUT-")

    stack.sandbox.stop()  # AvePoint is unreachable for the window's runs
    for logical_date in window:
        run_id = stack.airflow.trigger(DAG_ID, logical_date=logical_date.isoformat())
        assert stack.airflow.wait_for_run(DAG_ID, run_id, 300)["state"] == "failed"
    assert stack.rows("OUT-") == before, "a run during the outage changed rows"

    stack.sandbox.start()
    stack.airflow.airflow(
        "backfill", "create", "--dag-id", DAG_ID,
        "--from-date", (window[0] - timedelta(hours=1)).isoformat(), "--to-date", window[-1].isoformat(),
        "--reprocess-behavior", "failed",
    )  # fmt: skip

    def drained():
        return {r["status"] for r in stack.sql_rows("OUT-")} == {"onboarded"}

    stack.airflow.wait_until(drained, 600, "the backfill to drain the backlog", interval=3)
    inspect = stack.control.inspect()
    created = accounts("out-", inspect, "creations_per_account")
    assert len(created) == 30 and set(created.values()) == {1}
    assert set(accounts("out-", inspect, "posts_per_account").values()) == {1}


# -- 5. revoked credentials mid-run -----------------------------------------------------------------


def test_revoked_credentials_stop_the_run_and_return_rows_untouched(stack, faults):
    stack.add([customer(f"RV-{n:02d}") for n in range(40)])
    faults.set_faults(latency_ms=300)
    run_id = stack.airflow.trigger(DAG_ID)

    def some_onboarded():
        return sum(r["status"] == "onboarded" for r in stack.sql_rows("RV-")) >= 5

    stack.airflow.wait_until(some_onboarded, 300, "a few customers to be onboarded", interval=0.5)
    faults.revoke(disable_client=True)
    assert stack.airflow.wait_for_run(DAG_ID, run_id, 600)["state"] == "failed"

    rows = stack.rows("RV-")
    statuses = {r["status"] for r in rows.values()}
    assert statuses <= {"onboarded", "pending"} and "pending" in statuses, statuses
    for row in rows.values():
        if row["status"] == "pending":
            assert row["attempts"] == 0 and "stopped" in row["status_reason"], row
    note = stack.airflow.run(DAG_ID, run_id)["note"]
    assert "Stopped" in note and "AvePointAuthError" in note

    faults.enable_client()
    _, state = stack.run_dag()
    assert state == "success"
    assert {r["status"] for r in stack.sql_rows("RV-")} == {"onboarded"}
    assert set(accounts("rv-", stack.control.inspect(), "posts_per_account").values()) == {1}


# -- 6. warehouse unreachable -------------------------------------------------------------------------


def test_an_unreachable_warehouse_is_retried_and_nothing_changes(stack):
    stack.add([customer(f"WH-{n}") for n in range(3)])
    before = stack.rows("WH-")
    stack.proxy.cut()
    try:
        run_id = stack.airflow.trigger(DAG_ID)

        # prepare_table is the run's first task to reach the warehouse.
        def prepare_retrying():
            prepare = next(
                t for t in stack.airflow.task_instances(DAG_ID, run_id) if t["task_id"] == "prepare_table"
            )
            return prepare["state"] == "up_for_retry"

        stack.airflow.wait_until(prepare_retrying, 300, "the prepare_table task to fail and be retried")
        assert stack.rows("WH-") == before
    finally:
        stack.proxy.restore()
    assert stack.airflow.wait_for_run(DAG_ID, run_id, 300)["state"] == "success"
    prepare = next(t for t in stack.airflow.task_instances(DAG_ID, run_id) if t["task_id"] == "prepare_table")
    assert prepare["try_number"] >= 2
    assert {r["status"] for r in stack.sql_rows("WH-")} == {"onboarded"}


# -- 7. malformed API replies ---------------------------------------------------------------------------


def test_malformed_replies_become_retry_with_a_reason_and_the_run_goes_on(stack, faults):
    stack.add([customer(k) for k in ("MF-HTML", "MF-TRUNC", "MF-42", "MF-OK", "MF-SAVED")])
    for key, mode in (("mf-html", "html"), ("mf-trunc", "truncated")):
        faults.script(f"{key}@deploy.example", [{"malformed": mode}] * 4)
    faults.script("mf-42@deploy.example", [{"malformed": "status42"}])
    faults.script("mf-saved@deploy.example", [{"malformed": "html"}])  # created, then a proxy page
    # The list endpoint answers garbage too, so lookups cannot settle the ambiguous replies...
    faults.set_faults(malformed_rate=1.0, malformed_mode="html", apply_to=["list"])

    _, state = stack.run_dag()
    assert state == "success"
    rows = stack.rows("MF-")
    assert rows["MF-OK"]["status"] == "onboarded"
    for key in ("MF-HTML", "MF-TRUNC", "MF-SAVED"):
        assert rows[key]["status"] == "retry", key
        assert "not a JSON object" in rows[key]["status_reason"], rows[key]["status_reason"]
    assert "text/html" in rows["MF-HTML"]["status_reason"]
    assert rows["MF-42"]["status"] == "retry" and "undocumented status 42" in rows["MF-42"]["status_reason"]

    # Once AvePoint answers properly, the customer the HTML page hid is found, not created again.
    faults.clear_faults()
    _, state = stack.run_dag(customer_keys=["MF-SAVED", "MF-42"])
    assert state == "success"
    rows = stack.rows("MF-")
    assert rows["MF-SAVED"]["status"] == rows["MF-42"]["status"] == "onboarded"
    assert "not sent again" in rows["MF-SAVED"]["status_reason"]
    assert accounts("mf-saved", stack.control.inspect(), "posts_per_account") == {
        "mf-saved@deploy.example": 1
    }


# -- 8. hostile input ----------------------------------------------------------------------------------

INJECTION = "'; DROP TABLE customer_onboarding; --"
CONTROL = "control or invisible characters (such as NUL or a right-to-left override)"
COUNTRY = (
    "country_code is not one of the 249 two-letter country codes AvePoint accepts (capital letters, e.g. US)"
)
EMAIL = "registration_account is not a valid e-mail address"
DC = "data_center is not one of AvePoint's documented data center GUIDs"


def hostile_rows() -> list[tuple[dict, list[str]]]:
    """Rows built to break things, each with the exact rules it must be reported for.

    PostgreSQL refuses NUL in text, so NUL bytes are covered by the SQLite validation tests;
    here other control characters stand in for them.
    """
    cases: list[tuple[dict, list[str]]] = []

    def add(changes: dict, rules: list[str]) -> None:
        key = f"HX-{len(cases):03d}"
        cases.append((customer(key, **changes), rules))

    for column in ("registration_account", "country_code", "data_center", "telephone_number", "tags"):
        for attack in (INJECTION, '" OR "1"="1', "1; SELECT pg_sleep(10)--", "$(rm -rf /)"):
            rules = {
                "registration_account": [EMAIL],
                "country_code": [COUNTRY],
                "data_center": [DC],
                "telephone_number": ["telephone_number is not a plausible phone number"]
                + (["telephone_number is longer than 32 characters"] if len(attack) > 32 else []),
                "tags": ["tags is not a JSON array of strings"],
            }[column]
            add({column: attack}, rules)
    for column in ("first_name", "last_name", "organization_name"):
        add({column: f"{INJECTION}\x1b[2J"}, [f"{column} contains {CONTROL}"])
        add({column: "Eve\u202egnp.exe"}, [f"{column} contains {CONTROL}"])
        add(
            {column: "z" * 10_000},
            [f"{column} is longer than {128 if column == 'organization_name' else 64} characters"],
        )
        add({column: f"  {column}  "}, [f"{column} has leading or trailing spaces"])
        add({column: None}, [f"{column} is missing"])
        add({column: "   "}, [f"{column} is blank"])
    add(
        {"registration_account": "x" * 10_000 + "@deploy.example"},
        ["registration_account is longer than 254 characters"],
    )
    add(
        {"telephone_number": "1" * 10_000},
        ["telephone_number is longer than 32 characters", "telephone_number is not a plausible phone number"],
    )
    add({"tags": '["' + "t" * 10_000 + '"]'}, ["tags is longer than 4000 characters"])
    for code in ("us", "gb", "Us", "USA", ""):
        add({"country_code": code}, ["country_code is blank", COUNTRY] if code == "" else [COUNTRY])
    add({"data_center": MISTYPED_CANADA}, [DC])
    add({"data_center": "e44bb3ed-f1d8-4055-8c77-c8fd8cd634092"}, [DC])
    add(
        {"data_center": US_GOV},
        [
            "data_center belongs to the US Government cloud, but the AvePoint connection is for the commercial cloud"
        ],
    )
    for tags in ("[", '{"a": 1}', "[1, 2]", '["ok", null]', "null"):
        add({"tags": tags}, ["tags is not a JSON array of strings"])
    add({"password": None}, ["password is missing or blank"])
    add({"password": "   "}, ["password is missing or blank"])
    add({"password": "p" * 300}, ["password is longer than 256 characters"])
    add(
        {"registration_account": None, "country_code": None, "data_center": None},
        ["registration_account is missing", "country_code is missing", "data_center is missing"],
    )
    add(
        {"management_mode": None, "registration_account": "dup@deploy.example"},
        ["registration_account appears in more than one row of this batch"],
    )
    add(
        {"registration_account": "DUP@deploy.example"},
        ["registration_account appears in more than one row of this batch"],
    )
    return cases  # fmt: skip


def test_hostile_input_is_invalid_with_exact_reasons_and_valid_rows_are_onboarded(stack):
    hostile = hostile_rows()
    assert len(hostile) >= 60
    valid = [
        customer("HV-RTL", first_name="مريم", last_name="אברהם", organization_name="شركة 🚀 בע״מ"),
        customer(
            "HV-SQL", first_name="Robert'); DROP TABLE Students;--", organization_name=INJECTION.strip("; ")
        ),
        customer("HV-EMOJI", first_name="Zoë 😀", last_name="Ünïcødé", organization_name="Café ☕ Ltd"),
    ] + [customer(f"HV-{n}") for n in range(7)]
    far_future = datetime.now(UTC) + timedelta(days=30)
    bystanders = [customer("BY-FUTURE", requested_at=far_future), customer("BY-DONE")]
    # The project's DDL has NOT NULL on required columns, so NULLs cannot even be loaded there; a
    # user's own table (the table name is configurable) may lack those constraints. Drop them to
    # let NULL rows reach the pipeline, as such a table would.
    stack.query(
        f"ALTER TABLE {stack.warehouse.table} "
        + ", ".join(f"ALTER COLUMN {c} DROP NOT NULL" for c in ("first_name", "last_name", "organization_name",
                                                                 "registration_account", "country_code", "data_center"))
    )  # fmt: skip
    stack.add([row for row, _ in hostile] + valid + bystanders)
    stack.query(f"UPDATE {stack.warehouse.table} SET status = 'conflict', status_reason = 'a human is on it' "
                "WHERE customer_key = 'BY-DONE'")  # fmt: skip
    bystanders_before = stack.rows("BY-")

    _, state = stack.run_dag(max_customers=1000)

    assert state == "success"
    rows = stack.rows("HX-")
    for row, expected in hostile:
        got = rows[row["customer_key"]]
        assert got["status"] == "invalid", (row["customer_key"], got["status"], got["status_reason"])
        assert sorted(got["status_reason"].split("; ")) == sorted(expected), row["customer_key"]
    assert {r["status"] for r in stack.rows("HV-").values()} == {"onboarded"}
    stored = {c["ownerEmail"]: c for c in stack.control.inspect()["customers"]}
    assert stored["hv-rtl@deploy.example"]["organization"] == "شركة 🚀 בע״מ"
    assert stored["hv-sql@deploy.example"]["organization"] == INJECTION.strip("; ")
    assert stack.rows("BY-") == bystanders_before
    count = stack.query(f"SELECT COUNT(*) FROM {stack.warehouse.table} WHERE customer_key LIKE 'HX-%'")[0][0]
    assert count == len(hostile)  # the table survived every injection attempt


# -- 9. secret leakage --------------------------------------------------------------------------------


def test_no_secret_anywhere(stack):
    import psycopg

    secrets = set(stack.passwords)
    secrets |= {"sandbox-secret", stack.private_key.strip()}
    secrets |= {line for line in stack.private_key.splitlines() if line and not line.startswith("-----")}
    tokens = stack.control.inspect()["tokens_issued"]
    assert tokens, "the scenarios should have used tokens"
    secrets |= set(tokens)
    secrets = {s for s in secrets if len(s) >= 6}

    places: dict[str, str] = {}
    log_files = [p for p in (stack.airflow.home / "logs").rglob("*") if p.is_file()]
    assert any("task_id=onboard_customer" in str(p) for p in log_files)
    for path in log_files:
        places[str(path)] = path.read_text(errors="replace")
    with psycopg.connect(stack.metadata_url) as conn:
        for table in ("xcom", "rendered_task_instance_fields", "dag_run", "dag_run_note"):
            text = "\n".join(r[0] for r in conn.execute(f"SELECT t::text FROM {table} t"))
            places[f"metadata table {table}"] = text
    assert "onboarded" in places["metadata table xcom"]
    places["warehouse events table"] = "\n".join(
        r[0] for r in stack.query(f"SELECT e::text FROM {stack.warehouse.events_table} e")
    )

    hits = [
        (where, secret[:12] + "…") for where, text in places.items() for secret in secrets if secret in text
    ]
    assert hits == [], f"{len(hits)} secret(s) found: {hits[:10]}"
