"""Reconciliation against the sandbox: every kind of drift, settlement, retries, and 5,000 listed customers."""

from __future__ import annotations

import json
import math
import time
from types import SimpleNamespace

import pytest

from include.onboarding.reconciliation import PAGE_SIZE, compare
from tests.support.rows import make_customer, run_sql

pytestmark = pytest.mark.integration

RUN_ID = "scheduled__2026-11-29T00:00:00+00:00"
DAG_ID = "avepoint_customer_reconciliation"


def reconcile_run(run_id: str = RUN_ID) -> dict:
    """The DAG's reconcile_customers step, as a run with ``run_id`` calls it."""
    from include.onboarding.reconciliation import reconcile

    return reconcile({"run_id": run_id, "dag": SimpleNamespace(dag_id=DAG_ID)})


def listed(customer_id: str, account: str, organization: str = "Org") -> dict:
    """A customer in the sandbox's seed format, with a fixed id."""
    return {
        "id": customer_id,
        "registrationAccount": account,
        "organizationName": organization,
        "countryCode": "US",
    }


def set_row(
    store, key: str, *, status: str, customer_id: str | None = None, password_null: bool = False
) -> None:
    run_sql(
        store,
        f"UPDATE {store.table} SET status = :status, avepoint_customer_id = :cid"
        + (", password = NULL" if password_null else "")
        + " WHERE customer_key = :key",
        {"status": status, "cid": customer_id, "key": key},
    )


def drift(store, run_id: str = RUN_ID) -> list[tuple]:
    return run_sql(
        store,
        f"SELECT kind, customer_key, avepoint_customer_id FROM {store.table_name.with_suffix('_drift').quoted} "
        "WHERE run_id = :run_id ORDER BY kind, customer_key, avepoint_customer_id",
        {"run_id": run_id},
    )


@pytest.fixture
def drifted(sandbox, warehouse):
    """A warehouse and a sandbox that disagree in every way reconciliation knows."""
    rows = {
        "ON-OK": ("onboarded", "id-ok"),
        "ON-GONE": ("onboarded", "id-gone"),
        "ON-MOVED": ("onboarded", "id-moved"),
        "CONF": ("conflict", None),
        "RETRY": ("retry", None),
        "BUSY": ("in_progress", None),
        "PEND": ("pending", None),
        "DUP": ("retry", None),
    }
    customers = [make_customer(k) for k in rows]
    # DUP is ON-OK loaded a second time: its account and organization.
    customers[-1] |= {"registration_account": "ON-OK@customers.example", "organization_name": "Org ON-OK"}
    warehouse.add_customers(customers)
    for key, (status, customer_id) in rows.items():
        set_row(warehouse, key, status=status, customer_id=customer_id, password_null=status == "onboarded")
    sandbox.seed(
        customers=[
            listed("id-ok", "on-ok@customers.example", "Org ON-OK"),
            listed("id-moved", "someone-else@customers.example"),
            listed("id-conf", "CONF@customers.example", "Org CONF"),
            listed("id-retry", "retry@customers.example", "org retry"),
            listed("id-busy", "busy@customers.example", "Org BUSY"),
            listed("id-stranger", "stranger@elsewhere.example", "Stranger Ltd"),
        ]
    )
    return warehouse


def test_every_kind_of_drift_is_recorded_once_with_keys_and_ids(drifted, sandbox):
    result = reconcile_run()

    assert drift(drifted) == [
        ("account_mismatch", "ON-MOVED", "id-moved"),
        ("duplicate_account", "DUP", "id-ok"),
        ("missing_in_avepoint", "ON-GONE", "id-gone"),
        ("settled", "CONF", "id-conf"),
        ("settled", "RETRY", "id-retry"),
        ("unknown_customer", None, "id-stranger"),
    ]
    # The first reconciliation: the stranger AvePoint already listed is the baseline, not open drift.
    assert result["counts"] == {
        "missing_in_avepoint": 1,
        "account_mismatch": 1,
        "duplicate_account": 1,
        "settled": 2,
    }
    assert result["states"] == {"new": 5, "baseline": 1}


def test_conflict_and_retry_rows_that_avepoint_lists_are_settled_as_onboarded(drifted, sandbox):
    reconcile_run()

    table = {r["customer_key"]: r for r in drifted.rows(["CONF", "RETRY", "BUSY", "DUP", "PEND"])}
    assert {k: (r["status"], r["avepoint_customer_id"]) for k, r in table.items()} == {
        "CONF": ("onboarded", "id-conf"),
        "RETRY": ("onboarded", "id-retry"),
        "BUSY": ("in_progress", None),  # held by a run: never touched
        "DUP": ("retry", None),
        "PEND": ("pending", None),
    }
    profiles = drifted.password_profiles(["CONF", "RETRY", "BUSY"])
    assert {k: p["password_missing"] for k, p in profiles.items()} == {"CONF": 1, "RETRY": 1, "BUSY": 0}
    events = run_sql(
        drifted,
        f"SELECT customer_key, outcome, message FROM {drifted.events_table} WHERE run_id = :run_id ORDER BY customer_key",
        {"run_id": RUN_ID},
    )
    assert [(k, o) for k, o, _ in events] == [("CONF", "reconciled"), ("RETRY", "reconciled")]
    assert "an earlier attempt created it (was conflict)" in events[0][2]


def test_reconciliation_never_posts_and_its_details_hold_no_email_address(drifted, sandbox):
    reconcile_run()

    inspect = sandbox.inspect()
    assert inspect["requests"]["onboard"] == 0
    assert inspect["requests"]["list"] == 1
    details = run_sql(drifted, f"SELECT detail FROM {drifted.table_name.with_suffix('_drift').quoted}")
    assert details and not [d for (d,) in details if "@" in d]


def test_a_retried_reconciliation_keeps_its_findings_and_does_not_list_again(drifted, sandbox):
    first = reconcile_run()
    second = reconcile_run()

    assert second == first
    assert len(drift(drifted)) == 6
    assert sandbox.inspect()["requests"]["list"] == 1


def test_a_settlement_skips_a_row_claimed_since_the_comparison(drifted):
    from include.onboarding.ops_store import OperationsWarehouse

    store = OperationsWarehouse("customer_warehouse")
    store.create_operations_tables()
    comparison = compare(
        store.reconciliation_rows(),
        [{"id": "id-conf", "ownerEmail": "conf@customers.example", "organization": "Org CONF"}],
        RUN_ID,
    )
    set_row(drifted, "CONF", status="in_progress")  # a run claimed it in between

    written = store.record_reconciliation(
        RUN_ID,
        settlements=comparison.settlements,
        findings=[dict(f, state="new") for f in comparison.findings],
        opened=[],
        seen=[],
        closed=[],
    )

    assert [f["kind"] for f in written] == ["missing_in_avepoint"] * 3
    assert drifted.rows(["CONF"])[0]["status"] == "in_progress"
    assert [k for k, _, _ in drift(drifted)] == [
        "missing_in_avepoint",
        "missing_in_avepoint",
        "missing_in_avepoint",
    ]


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_five_thousand_listed_customers_take_one_list_request_per_page_of_100(sandbox, warehouse):
    total = 5000
    seed = [listed(f"id-{i:05d}", f"c{i:05d}@bulk.example", f"Bulk {i}") for i in range(total)]
    started = time.monotonic()
    assert sandbox.seed(customers=seed)["seeded"] == total
    seeding = time.monotonic() - started
    run_sql(warehouse, "SELECT 1")  # the engine exists before the bulk insert below
    with warehouse.engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(
            text(
                f"INSERT INTO {warehouse.table} (customer_key, first_name, last_name, organization_name, "
                "registration_account, country_code, data_center, status, avepoint_customer_id, attempts, "
                "requested_at) VALUES (:key, 'A', 'B', :org, :account, 'US', :dc, 'onboarded', :cid, 1, :at)"
            ),
            [
                {
                    "key": f"K{i:05d}",
                    "org": f"Bulk {i}",
                    "account": f"C{i:05d}@bulk.example",
                    "dc": "e44bb3ed-f1d8-4055-8c77-c8fd8cd63409",
                    "cid": f"id-{i:05d}",
                    "at": "2026-11-01 00:00:00+00:00",
                }
                for i in range(total)
            ],
        )

    result = reconcile_run()

    assert result["findings"] == 0
    # Pages of 100; the last page is full, and the paging stops on totalCount, without an empty page.
    assert sandbox.inspect()["requests"]["list"] == math.ceil(total / PAGE_SIZE) == 50
    assert seeding < 30, f"seeding 5,000 customers took {seeding:.1f} s"


# -- which listed customer a row is (issue 16 item 4) -----------------------------------------------


def row(key: str, account: str, *, status: str = "retry", organization: str = "Org A") -> dict:
    return {
        "customer_key": key,
        "status": status,
        "registration_account": account,
        "organization_name": organization,
        "avepoint_customer_id": None,
    }


def customer(customer_id: str, account: str, organization: str = "Org A") -> dict:
    return {"id": customer_id, "ownerEmail": account, "organization": organization}


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("strasse@x.example", "stra\u00dfe@x.example"),  # casefold() makes them one account
        ("kelvin@x.example", "\u212aelvin@x.example"),  # lower() makes the Kelvin sign a k
        ("stra\u00dfe@x.example", "strasse@x.example"),
    ],
)
def test_a_row_is_never_settled_on_another_account_that_unicode_folding_makes_equal(ours, theirs):
    result = compare([row("R1", ours)], [customer("id-other", theirs)], RUN_ID)

    assert result.settlements == []
    assert [(f["kind"], f["customer_key"], f["avepoint_customer_id"]) for f in result.findings] == [
        ("unknown_customer", None, "id-other")
    ]


def test_a_row_is_settled_when_exactly_one_listed_customer_has_its_account_and_organization():
    result = compare(
        [row("R1", " Ann@X.example ", organization="Contoso  Ltd")],
        [customer("id-ann", "ann@x.example", "contoso ltd"), customer("id-bob", "bob@x.example")],
        RUN_ID,
    )

    assert [(s["customer_key"], s["avepoint_customer_id"]) for s in result.settlements] == [("R1", "id-ann")]


def test_a_listed_customer_under_another_organization_is_left_to_a_human():
    result = compare(
        [row("R1", "ann@x.example", status="conflict", organization="Contoso")],
        [customer("id-ann", "ann@x.example", "Fabrikam")],
        RUN_ID,
    )

    assert result.settlements == []
    [finding] = result.findings
    assert (finding["kind"], finding["customer_key"], finding["avepoint_customer_id"]) == (
        "ambiguous_match",
        "R1",
        "id-ann",
    )
    assert "another organization" in finding["detail"] and "@" not in finding["detail"]


def test_an_account_listed_twice_is_left_to_a_human():
    result = compare(
        [row("R1", "ann@x.example")],
        [customer("id-1", "ann@x.example"), customer("id-2", "ANN@x.example")],
        RUN_ID,
    )

    assert result.settlements == []
    [finding] = result.findings
    assert (finding["kind"], finding["customer_key"]) == ("ambiguous_match", "R1")
    assert "id-1" in finding["detail"] and "id-2" in finding["detail"]


# -- the drift lifecycle (issue 18 target 3) -------------------------------------------------------

DAY_1, DAY_2, DAY_3 = (f"scheduled__2026-12-0{d}T00:00:00+00:00" for d in (1, 2, 3))


@pytest.fixture
def alerting(monkeypatch):
    """Alert recipients in the Variable: a run with something to say owes an e-mail alert."""

    def configure(**more):
        settings = {"alert_emails": ["ops@partner.example"]} | more
        monkeypatch.setenv("AIRFLOW_VAR_AVEPOINT_ONBOARDING", json.dumps(settings))

    configure()
    return configure


def owed(store, run_id: str) -> list[dict]:
    """The alert payloads ``run_id`` owes (one per channel; e-mail only here)."""
    table = store.table_name.with_suffix("_alerts").quoted
    rows = run_sql(store, f"SELECT payload FROM {table} WHERE run_id = :r", {"r": run_id})
    return [json.loads(payload) for (payload,) in rows]


def states(store, run_id: str) -> list[tuple]:
    return run_sql(
        store,
        f"SELECT kind, customer_key, avepoint_customer_id, state FROM {store.table_name.with_suffix('_drift').quoted} "
        "WHERE run_id = :run_id ORDER BY kind, customer_key, avepoint_customer_id",
        {"run_id": run_id},
    )


def life(store) -> dict[str, tuple]:
    """Each finding's life, by customer key (or AvePoint id): first run, last run, closing run, acknowledgement."""
    rows = run_sql(
        store,
        "SELECT kind, customer_key, avepoint_customer_id, first_run_id, last_run_id, closed_run_id, acknowledged_by "
        f"FROM {store.table_name.with_suffix('_drift_state').quoted}",
    )
    return {
        (key or cid or kind): (first, last, closed, ack) for kind, key, cid, first, last, closed, ack in rows
    }


@pytest.fixture
def gone(sandbox, warehouse):
    """Row GONE is onboarded as id-gone, which AvePoint does not list."""
    warehouse.add_customers([make_customer("GONE"), make_customer("FINE")])
    set_row(warehouse, "GONE", status="onboarded", customer_id="id-gone", password_null=True)
    set_row(warehouse, "FINE", status="onboarded", customer_id="id-fine", password_null=True)
    sandbox.seed(customers=[listed("id-fine", "fine@customers.example", "Org FINE")])
    return warehouse


def test_the_same_drift_on_two_days_sends_one_alert(gone, alerting):
    reconcile_run(DAY_1)
    second = reconcile_run(DAY_2)

    [alert] = owed(gone, DAY_1)
    assert [(f["kind"], f["customer_key"]) for f in alert["findings"]] == [("missing_in_avepoint", "GONE")]
    assert owed(gone, DAY_2) == []
    assert states(gone, DAY_1) == [("missing_in_avepoint", "GONE", "id-gone", "new")]
    assert states(gone, DAY_2) == [("missing_in_avepoint", "GONE", "id-gone", "standing")]
    assert second["states"] == {"standing": 1}
    assert life(gone)["GONE"] == (DAY_1, DAY_2, None, None)


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_drift_that_is_no_longer_found_is_closed_and_alerted_anew_if_it_returns(gone, sandbox, alerting):
    reconcile_run(DAY_1)
    sandbox.seed(customers=[listed("id-gone", "gone@customers.example", "Org GONE")])  # support restored it

    reconcile_run(DAY_2)

    assert states(gone, DAY_2) == [("missing_in_avepoint", "GONE", "id-gone", "closed")]
    assert life(gone)["GONE"] == (DAY_1, DAY_1, DAY_2, None)
    assert owed(gone, DAY_2) == []

    sandbox.reset()  # gone again
    sandbox.seed(customers=[listed("id-fine", "fine@customers.example", "Org FINE")])
    reconcile_run(DAY_3)

    assert states(gone, DAY_3) == [("missing_in_avepoint", "GONE", "id-gone", "new")]
    assert [f["customer_key"] for f in owed(gone, DAY_3)[0]["findings"]] == ["GONE"]


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_an_acknowledged_finding_stays_quiet(gone, sandbox, alerting):
    from include.onboarding.ops_store import OperationsWarehouse

    reconcile_run(DAY_1)
    store = OperationsWarehouse("customer_warehouse")
    assert store.acknowledge_drift(["GONE"], by="ann@ops") == 1
    # A customer created in AvePoint by hand, acknowledged in the Variable before any run saw it.
    sandbox.seed(customers=[listed("id-hand", "hand@elsewhere.example", "Hand Ltd")])
    alerting(drift_acknowledged=["id-hand"])

    result = reconcile_run(DAY_2)

    assert states(gone, DAY_2) == [
        ("missing_in_avepoint", "GONE", "id-gone", "acknowledged"),
        ("unknown_customer", None, "id-hand", "acknowledged"),
    ]
    assert owed(gone, DAY_2) == []
    assert (result["counts"], result["states"]) == ({}, {"acknowledged": 2})
    assert life(gone)["GONE"] == (DAY_1, DAY_2, None, "ann@ops")
    assert life(gone)["id-hand"] == (DAY_2, DAY_2, None, None)


def test_adopting_an_account_with_existing_customers_takes_a_baseline_in_one_line(
    sandbox, warehouse, alerting
):
    from include.onboarding.alerts import render

    existing = [listed(f"id-{i:02d}", f"c{i:02d}@adopted.example", f"Adopted {i}") for i in range(30)]
    sandbox.seed(customers=existing)

    first = reconcile_run(DAY_1)

    [alert] = owed(warehouse, DAY_1)
    assert (alert["findings"], alert["baseline"]) == ([], 30)
    subject, html, text = render(alert)
    assert "baseline" in subject and "Baseline:</b> 30 customer(s)" in html
    assert not [c["id"] for c in existing if c["id"] in html + text]
    assert first["states"] == {"baseline": 30}
    assert {ack for _, _, _, ack in life(warehouse).values()} == {"baseline (the first reconciliation)"}

    second = reconcile_run(DAY_2)  # the next day: nothing new, nothing said

    assert (owed(warehouse, DAY_2), states(warehouse, DAY_2), second["findings"]) == ([], [], 0)

    sandbox.seed(customers=[listed("id-new", "new@elsewhere.example", "Made By Hand")])
    reconcile_run(DAY_3)  # a customer created outside the pipeline since: that one is news

    [alert] = owed(warehouse, DAY_3)
    assert [(f["kind"], f["avepoint_customer_id"]) for f in alert["findings"]] == [
        ("unknown_customer", "id-new")
    ]
    assert alert["baseline"] == 0


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_a_drift_table_from_before_the_lifecycle_gets_its_state_column(warehouse, caplog):
    from include.onboarding.ops_store import OperationsWarehouse

    drift = warehouse.table_name.with_suffix("_drift").quoted
    run_sql(
        warehouse,
        f"CREATE TABLE {drift} (drift_id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, "
        "found_at TEXT NOT NULL, kind TEXT NOT NULL, customer_key TEXT, avepoint_customer_id TEXT, "
        "detail TEXT NOT NULL)",
    )
    run_sql(
        warehouse, f"INSERT INTO {drift} (run_id, found_at, kind, detail) VALUES ('old', 'then', 'k', 'd')"
    )

    OperationsWarehouse("customer_warehouse").create_operations_tables()

    assert run_sql(warehouse, f"SELECT run_id, state FROM {drift}") == [("old", None)]
    assert "Adding the column state" in caplog.text
