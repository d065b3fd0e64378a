"""The Airflow UI as the people running this project use it, driven in headless Chromium.

The tests run in order against one local Airflow (see conftest.py): the connection form and its
Test button, the DAG's documentation, the trigger dialog (bad values refused, a dry run, a real
run), the run note (also written with an API token alone), the labelled mapped tasks and one task
log, a person answering the review queue in Required Actions and the next run onboarding the
corrected customer, a backfill started from the trigger dialog, and a drain. Each step leaves a
screenshot in var/browser-artifacts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import requests

from avepoint_sandbox import SandboxControl
from tests.browser.conftest import DAG_ID, REVIEW_DAG_ID, REVIEW_KEY, REVIEW_ORGANIZATION, VIEWPORT
from tests.support.rows import make_customer, run_sql
from tools.demo.customers import ALREADY_OURS_ACCOUNT, OTHER_PARTNER_ACCOUNT, demo_customers

pytestmark = pytest.mark.browser

DEMO = demo_customers()
DEMO_PASSWORDS = [c["password"] for c in DEMO if c.get("password")]
DEMO_ACCOUNTS = [c["registration_account"] for c in DEMO]
INVALID_KEYS = {"CUST-201", "CUST-202", "CUST-203", "CUST-204", "CUST-205", "CUST-206"}
SENT_KEYS = [c["customer_key"] for c in DEMO if c["customer_key"] not in INVALID_KEYS]
LABELS = {c["customer_key"]: f"{c['customer_key']} · {c['organization_name'].strip()}" for c in DEMO}
UI_CONNECTION = "avepoint_browser"
REVIEW_ASSET_URI = "avepoint://elements/customers/needing-review"
REVIEW_PASSWORD = f"Secret-{REVIEW_KEY}-Pw1!"  # make_customer's


def _dialog(page, title: str):
    return page.get_by_role("dialog").filter(has_text=title)


def _fit_resizable(dialog, *, width: int, height: int | None = None) -> None:
    """Resize a dialog's resizable box (the docs and note dialogs): to ``height``, or to fit its text."""
    dialog.evaluate(
        """(dialog, [width, height]) => {
            const box = [...dialog.querySelectorAll('*')].find(e => getComputedStyle(e).resize === 'both');
            if (!box) return;
            box.style.width = width + 'px';
            box.style.height = height ? height + 'px' : 'auto';
            box.style.minHeight = height ? height + 'px' : '0';
        }""",
        [width, height],
    )


def _toast(page, title: str):
    """The notification with this title (toasts stack at the bottom right)."""
    return page.locator("[data-scope=toast][data-part=root]").filter(has_text=title).last


# -- connection form -------------------------------------------------------------------------------


def test_connection_form_labels_the_avepoint_fields_and_its_test_button_works(page, local_airflow, shot):
    page.goto("/connections")
    page.get_by_role("button", name="Add Connection").click()
    form = _dialog(page, "Add Connection")
    form.get_by_label("Connection ID").fill(UI_CONNECTION)
    kind = form.get_by_role("combobox", name="Connection Type")
    kind.click()
    kind.fill("avepoint")
    page.get_by_role("option", name="AvePoint Graph API").click()

    # Standard fields: relabelled with placeholders; schema and port are hidden, login/password renamed.
    for label, placeholder in (
        ("Graph URL", "https://graph.avepointonlineservices.com"),
        ("Client ID", "client id from AvePoint Online Services"),
        ("Client secret", "leave empty for certificate auth"),
    ):
        field = form.get_by_label(label, exact=True)
        assert field.is_visible(), label
        assert placeholder in (field.get_attribute("placeholder") or ""), label
    standard = form.locator("label").all_inner_texts()
    for unused in ("Port", "Schema", "Login", "Password", "Host"):
        assert unused not in [t.strip() for t in standard], f"{unused} should be hidden or relabelled"
    shot(form, "connection-form", readme="connection-form.png")
    form.get_by_label("Graph URL", exact=True).fill(local_airflow.sandbox_url)
    form.get_by_label("Client ID", exact=True).fill("sandbox-client")
    form.get_by_label("Client secret", exact=True).fill("sandbox-secret")

    # Extra fields: each labelled, with help text.
    form.get_by_role("button", name="Extra Fields", exact=True).click()
    expected = {
        "Environment": "AvePoint cloud",
        "Token URL": "OAuth token endpoint",
        "Scope": "Space-separated scopes",
        "Timeout (seconds)": "Seconds to wait",
        "Private key (PEM)": "Certificate auth",
        "Private key file": "Path to the PEM private key",
    }
    for label, help_text in expected.items():
        group = form.locator("[data-scope=field][data-part=root]").filter(
            has=page.locator("label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
        )
        assert group.count() == 1, label
        assert help_text in group.inner_text(), label
    form.locator("input[name=element_token_url]").fill(f"{local_airflow.sandbox_url}/connect/token")
    page.set_viewport_size({"width": 1400, "height": 1400})  # the whole dialog in one picture
    shot(form, "connection-form-extra-fields", readme="connection-form-extra.png")
    page.set_viewport_size(VIEWPORT)
    form.get_by_role("button", name="Save").click()
    form.wait_for(state="hidden")

    row = page.get_by_role("row").filter(has_text=UI_CONNECTION)
    row.get_by_role("button", name="Test Connection").click()
    success = _toast(page, "Test Connection Successful")
    success.wait_for()
    assert f"Connected to {local_airflow.sandbox_url} with client_secret auth" in success.inner_text()
    page.wait_for_timeout(600)  # the toast's entry animation
    shot(page, "connection-test-success")

    # A wrong secret: the same button reports a clear failure.
    row.get_by_role("button", name="Edit Connection").click()
    form = _dialog(page, "Edit Connection")
    form.get_by_label("Client secret", exact=True).fill("not-the-secret")
    form.get_by_role("button", name="Save").click()
    form.wait_for(state="hidden")
    row.get_by_role("button", name="Test Connection").click()
    failure = _toast(page, "Test Connection Failed")
    failure.wait_for()
    message = failure.inner_text()
    page.wait_for_timeout(600)
    shot(page, "connection-test-wrong-secret")
    assert "invalid_client" in message or "credentials" in message.lower(), message
    assert "not-the-secret" not in message and "Bad Request" not in message, message


# -- the DAG's documentation -----------------------------------------------------------------------


def test_dag_docs_explain_params_lifecycle_and_what_a_human_does(page, shot):
    page.goto(f"/dags/{DAG_ID}")
    page.get_by_role("button", name="Dag Docs").click()
    docs = _dialog(page, "Dag Documentation")
    docs.get_by_text("Status lifecycle").wait_for()
    # Rendered Markdown: headings and tables, not pipes.
    assert docs.locator("table").count() == 2
    assert "| status |" not in docs.inner_text()
    lifecycle = docs.locator("table").nth(1)
    for status, action in (
        ("invalid", "review it: correct the fields and retry"),
        ("rejected", "review it: retry with corrected fields"),
        ("conflict", "ask the customer"),
        ("failed", "review it: retry as is"),
    ):
        assert action in lifecycle.locator("tr").filter(has_text=status).first.inner_text(), status
    params = docs.locator("table").nth(0).inner_text()
    for param in ("dry_run", "max_customers", "customer_keys", "drain"):
        assert param in params
    assert "Required Actions" in docs.inner_text()
    assert "Backfill" in docs.inner_text()
    _fit_resizable(docs, width=1150, height=820)  # small by default: make it large for the screenshot
    shot(page, "dag-docs")


# -- the trigger dialog ----------------------------------------------------------------------------


def _open_trigger(page, dag_id: str = DAG_ID):
    page.goto(f"/dags/{dag_id}")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = _dialog(page, "Trigger Dag - ")
    dialog.get_by_text("Run Parameters").wait_for()
    return dialog


def _trigger(page, dialog) -> str:
    with page.expect_response(lambda r: r.url.endswith("/dagRuns") and r.request.method == "POST") as answer:
        dialog.get_by_role("button", name="Trigger", exact=True).click()
    response = answer.value
    assert response.ok, response.text()
    return response.json()["dag_run_id"]


def test_trigger_dialog_shows_typed_params_and_refuses_bad_values(page, local_airflow, shot):
    dialog = _open_trigger(page)
    text = dialog.inner_text()
    for title, description in (
        ("Dry run", "No API call, no claim, no status change"),
        ("Max customers", "a whole number from 1 to 1000"),
        ("Customer keys", "one per line"),
    ):
        assert title in text and description in text, title
    limit = dialog.locator("input[name=element_max_customers]")
    assert limit.input_value() == "500"
    assert dialog.locator("textarea[name=element_customer_keys]").get_attribute("placeholder") == (
        "Enter each string on a new line"
    )
    # The form holds the bounds: out-of-range numbers snap to them...
    for typed, kept in (("5000", "1000"), ("0", "1")):
        limit.fill(typed)
        limit.blur()
        assert limit.input_value() == kept, typed
    # ...and a value of the wrong type is refused when triggering, before any run exists.
    runs_before = local_airflow.api("GET", f"/dags/{DAG_ID}/dagRuns")["total_entries"]
    limit.fill("2.5")
    limit.blur()
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    error = dialog.get_by_text("Invalid input for param max_customers")
    error.wait_for()
    assert "is not of type 'integer'" in dialog.inner_text()
    shot(page, "trigger-refuses-bad-value")
    assert local_airflow.api("GET", f"/dags/{DAG_ID}/dagRuns")["total_entries"] == runs_before


def test_a_dry_run_from_the_trigger_dialog_changes_nothing(page, local_airflow, shot, run_ids):
    dialog = _open_trigger(page)
    dialog.locator("label").filter(has=page.locator("input[name=element_dry_run]")).first.click()
    assert dialog.locator("input[name=element_dry_run]").is_checked()
    dialog.locator("input[name=element_max_customers]").fill("5")
    dialog.locator("textarea[name=element_customer_keys]").fill("CUST-001\nCUST-201\nCUST-101")
    shot(dialog, "trigger-dialog-params", readme="trigger-dialog.png")
    run_id = _trigger(page, dialog)

    run = local_airflow.wait_for_run(DAG_ID, run_id, 150)
    assert run["state"] == "success"
    assert run["conf"] == {
        "dry_run": True,
        "max_customers": 5,
        "customer_keys": ["CUST-001", "CUST-201", "CUST-101"],
        "drain": False,
    }
    assert run["note"].startswith(
        "**Dry run**: nothing was claimed, sent or changed. 2 customer(s) would be sent"
    )
    assert "**Would be marked invalid (1):**" in run["note"] and "CUST-201" in run["note"]
    assert local_airflow.warehouse.status_counts() == {"pending": len(DEMO) + 1}
    run_ids["dry"] = run_id


def test_a_real_run_leaves_a_markdown_summary_in_its_note(page, local_airflow, shot, run_ids):
    dialog = _open_trigger(page)
    dialog.locator("input[name=element_max_customers]").fill("100")
    run_id = _trigger(page, dialog)
    run_ids["real"] = run_id
    run = local_airflow.wait_for_run(DAG_ID, run_id, 150)
    assert run["state"] == "success"
    counts = local_airflow.warehouse.status_counts()
    assert counts == {
        "onboarded": len(SENT_KEYS) - 2,
        "invalid": len(INVALID_KEYS) + 1,  # and the review row
        "rejected": 1,
        "conflict": 1,
    }

    page.goto(f"/dags/{DAG_ID}/runs/{quote(run_id, safe='')}")
    page.get_by_text("Done, with rows needing a human").first.wait_for()
    shot(page, "run-page")
    page.get_by_role("button", name="Edit note").click()
    note = _dialog(page, "Dag Run Note")
    note.get_by_text("Needs a human").wait_for()
    text = note.inner_text()
    assert "**" not in text, "the note must render as Markdown, not show its syntax"
    assert note.locator("strong").filter(has_text="Done, with rows needing a human").count() == 1
    items = note.locator("li").all_inner_texts()
    assert any(
        i.startswith("CUST-101 Globex Holdings · conflict: the account already exists") for i in items
    ), items
    assert any(
        i.startswith("CUST-103 Sandbox Partner · rejected: AvePoint refused the customer") for i in items
    ), items
    assert any("· invalid: " in i for i in items), items
    assert f"onboarded {counts['onboarded']} · invalid 7 · rejected 1 · conflict 1" in text
    for secret in DEMO_PASSWORDS + DEMO_ACCOUNTS:
        assert secret not in text
    _fit_resizable(note, width=1100, height=440)
    shot(note, "run-note", readme="run-note.png")


def test_the_run_note_is_written_with_an_api_token_alone(local_airflow, run_ids, monkeypatch):
    """Astro's way: the ``airflow_api`` connection holds an API token in its password, no login."""
    from include.onboarding.run_note import publish_note
    from tests.conftest import set_connection

    run_id = run_ids.get("dry") or pytest.skip("needs the dry run of an earlier test")
    token = requests.get(f"{local_airflow.api_url}/auth/token", timeout=10).json()["access_token"]
    set_connection(
        monkeypatch, "airflow_api_token", conn_type="http", host=local_airflow.api_url, password=token
    )

    assert publish_note(DAG_ID, run_id, "Written with an **API token**.", "airflow_api_token")

    assert local_airflow.run(DAG_ID, run_id)["note"] == "Written with an **API token**."


@pytest.fixture(scope="module")
def run_ids() -> dict[str, str]:
    return {}


# -- mapped tasks and a task log -------------------------------------------------------------------


def test_mapped_tasks_carry_customer_labels_and_a_log_tells_the_story(page, local_airflow, shot, run_ids):
    run_id = run_ids.get("real") or pytest.skip("needs the real run of the previous test")
    page.goto(f"/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks/onboard_customer/mapped")
    page.get_by_text(f"{len(SENT_KEYS)} Task Instances").wait_for()
    # The grid on the left holds the mapped task; its instances are listed by label.
    assert page.get_by_text("onboard_customer [ ]").first.is_visible()
    links = page.get_by_role("link").filter(has_text=re.compile(r"^CUST-\d{3} · ")).all_inner_texts()
    labels = sorted(" ".join(t.split()) for t in links)
    # Each label ends in the outcome the warehouse recorded for that customer.
    status = {r["customer_key"]: r["status"] for r in local_airflow.warehouse.rows(SENT_KEYS)}
    assert labels == sorted(f"{LABELS[k]} — {status[k]}" for k in SENT_KEYS)
    page_text = page.locator("body").inner_text()
    for secret in DEMO_PASSWORDS + DEMO_ACCOUNTS:
        assert secret not in page_text
    shot(page, "mapped-tasks-grid", readme="grid-mapped-tasks.png")

    page.get_by_role("link", name=f"{LABELS['CUST-101']} — conflict").first.click()
    log = page.get_by_text("Outcome for customer CUST-101: conflict")
    log.wait_for()
    story = page.get_by_test_id("virtualized-list").inner_text()
    for line in (
        "Customer CUST-101 (Globex Holdings): attempt 1 of 5, sending the onboarding request to AvePoint",
        "AvePoint answered HTTP 200 with status 7 (customer already exists); request-id ",
        "Looking the account up in this partner's customer list",
        "Outcome for customer CUST-101: conflict — the account already exists in AvePoint",
    ):
        assert line in story, line
    for secret in [*DEMO_PASSWORDS, OTHER_PARTNER_ACCOUNT, ALREADY_OURS_ACCOUNT, "sandbox-secret", "Bearer "]:
        assert secret not in story
    assert "registrationAccount" not in story and "password" not in story.lower()
    page.keyboard.press("w")  # wrap long lines for the screenshot
    shot(page, "task-log-conflict")


# -- the review queue: a person answers in Required Actions ------------------------------------------


def _task_instances(local_airflow, dag_id: str, run_id: str) -> dict[tuple[str, int], dict]:
    listed = local_airflow.api("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")
    return {(t["task_id"], t["map_index"]): t for t in listed["task_instances"]}


def test_a_person_corrects_a_row_in_required_actions_and_the_next_run_onboards_it(
    page, local_airflow, shot, run_ids
):
    real = run_ids.get("real") or pytest.skip("needs the real run of an earlier test")
    store = local_airflow.warehouse
    assert store.rows([REVIEW_KEY])[0]["status"] == "invalid"
    # The real run asked for a review: an Asset event naming it and its rows needing a human. (This
    # Airflow creates no scheduled or Asset-triggered runs, so a person starts the review by hand.)
    events = local_airflow.api("GET", "/assets/events", params={"source_dag_id": DAG_ID})["asset_events"]
    asked = [e["extra"] for e in events if e["uri"] == REVIEW_ASSET_URI]
    assert asked == [
        {"run_id": real, "counts": {"conflict": 1, "rejected": 1, "invalid": len(INVALID_KEYS) + 1}}
    ]

    local_airflow.api("PATCH", f"/dags/{REVIEW_DAG_ID}", json={"is_paused": False})
    dialog = _open_trigger(page, REVIEW_DAG_ID)
    dialog.locator("textarea[name=element_customer_keys]").fill(REVIEW_KEY)
    review_run = _trigger(page, dialog)
    local_airflow.wait_until(
        lambda: (
            _task_instances(local_airflow, REVIEW_DAG_ID, review_run)
            .get(("review_customer", 0), {})
            .get("state")
            == "awaiting_input"
        ),
        150,
        "the review task to wait for a person",
    )

    page.goto("/required_actions")
    subject = f"{REVIEW_KEY} · {REVIEW_ORGANIZATION} — invalid"
    page.get_by_role("link", name=subject).click()
    form = page.locator("input[name=element_organization_name]")
    form.wait_for()
    text = page.locator("body").inner_text()
    # Row data is shown as text, never rendered as a template ({{ 6*7 }} is not 42), and never the password.
    assert subject in text and f"({REVIEW_ORGANIZATION}) is invalid" in text and "42 Research" not in text
    assert "country_code is not one of the 249 two-letter country codes" in text
    assert form.input_value() == REVIEW_ORGANIZATION
    assert page.locator("input[name=element_password]").count() == 0 and REVIEW_PASSWORD not in text
    country = page.locator("input[name=element_country_code]")
    assert country.input_value() == "us"
    country.fill("US")
    page.set_viewport_size({"width": 1400, "height": 1700})  # the whole form in one picture
    shot(page, "review-required-action", readme="review-required-action.png")
    page.set_viewport_size(VIEWPORT)
    with page.expect_response(lambda r: "hitlDetails" in r.url and r.request.method == "PATCH") as answer:
        page.get_by_role("button", name="Retry with corrected fields").click()
    assert answer.value.ok, answer.value.text()

    run = local_airflow.wait_for_run(REVIEW_DAG_ID, review_run, 150)
    assert run["state"] == "success"
    task = _task_instances(local_airflow, REVIEW_DAG_ID, review_run)[("review_customer", 0)]
    assert task["rendered_map_index"] == f"{REVIEW_KEY} · {REVIEW_ORGANIZATION} — re-queued with corrections"
    row = store.rows([REVIEW_KEY])[0]
    assert (row["status"], row["country_code"], row["organization_name"]) == (
        "pending",
        "US",
        REVIEW_ORGANIZATION,
    )
    [(outcome, message)] = run_sql(
        store,
        f"SELECT outcome, message FROM {store.events_table} WHERE customer_key = :key AND run_id = :run",
        {"key": REVIEW_KEY, "run": review_run},
    )
    assert outcome == "review_corrected"
    assert message == (
        "Retry with corrected fields by Anonymous (id Anonymous): re-queued as pending from invalid; "
        "fields changed: country_code"
    )
    page.goto(f"/dags/{REVIEW_DAG_ID}/runs/{quote(review_run, safe='')}/tasks/review_customer/mapped")
    page.get_by_text("re-queued with corrections").first.wait_for()
    shot(page, "review-done")

    # The next onboarding run takes the corrected row and onboards it, organization as typed.
    next_run = local_airflow.api(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={"logical_date": None, "conf": {"customer_keys": [REVIEW_KEY]}},
    )["dag_run_id"]
    assert local_airflow.wait_for_run(DAG_ID, next_run, 150)["state"] == "success"
    assert store.rows([REVIEW_KEY])[0]["status"] == "onboarded"
    with SandboxControl(local_airflow.sandbox_url) as control:
        created = [c for c in control.inspect()["customers"] if c["organization"] == REVIEW_ORGANIZATION]
    assert [c["countryCode"] for c in created] == ["US"]


# -- backfill from the trigger dialog ---------------------------------------------------------------


def _pick(page, dialog, index: int, when: datetime) -> None:
    dialog.get_by_test_id("datetime-input").nth(index).click()
    picker = page.locator("[data-scope=popover][data-part=content][data-state=open]").first
    picker.get_by_placeholder("YYYY/MM/DD").fill(when.strftime("%Y/%m/%d"))
    picker.get_by_placeholder("HH:mm").fill(when.strftime("%H:%M"))
    dialog.get_by_text("Date Range").click()  # closes the picker
    picker.wait_for(state="hidden")


def test_a_backfill_from_the_trigger_dialog_drains_the_window(page, local_airflow, shot):
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first, second = hour - timedelta(hours=2), hour - timedelta(hours=1)  # the backfill's two runs
    rows = {
        "BF-EARLY": first - timedelta(minutes=20),  # taken by the run at `first`
        "BF-LATER": second - timedelta(minutes=20),  # taken by the run at `second`
        "BF-AFTER": second + timedelta(minutes=5),  # after the window: stays pending
    }
    local_airflow.warehouse.add_customers(
        [make_customer(key, domain="backfill.example", requested_at=at) for key, at in rows.items()]
    )

    page.goto(f"/dags/{DAG_ID}")
    page.get_by_role("button", name="Trigger Dag").click()
    _dialog(page, "Trigger Dag - ").get_by_text("Backfill", exact=True).click()
    dialog = _dialog(page, "Run Backfill - ")
    _pick(page, dialog, 0, first - timedelta(minutes=30))
    _pick(page, dialog, 1, second + timedelta(minutes=1))
    dialog.get_by_text("2 runs will be triggered").wait_for()
    shot(dialog, "backfill-dialog")
    with page.expect_response(
        lambda r: r.url.endswith("/backfills") and r.request.method == "POST"
    ) as answer:
        dialog.get_by_role("button", name="Run Backfill").click()
    assert answer.value.ok, answer.value.text()
    backfill_id = answer.value.json()["id"]

    local_airflow.wait_until(
        lambda: local_airflow.api("GET", f"/backfills/{backfill_id}")["completed_at"], 200, "the backfill"
    )
    runs = local_airflow.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"run_type": "backfill"})["dag_runs"]
    assert sorted((r["logical_date"][:16], r["state"]) for r in runs) == [
        (first.strftime("%Y-%m-%dT%H:%M"), "success"),
        (second.strftime("%Y-%m-%dT%H:%M"), "success"),
    ]
    store = local_airflow.warehouse
    status = dict(
        run_sql(store, f"SELECT customer_key, status FROM {store.table} WHERE customer_key LIKE 'BF-%'")
    )
    assert status == {"BF-EARLY": "onboarded", "BF-LATER": "onboarded", "BF-AFTER": "pending"}
    events = run_sql(
        store, f"SELECT customer_key, run_id FROM {store.events_table} WHERE customer_key LIKE 'BF-%'"
    )
    taken_by = {key: run for key, run in events}
    assert taken_by["BF-EARLY"].startswith(f"backfill__{first.isoformat()[:16]}"), taken_by
    assert taken_by["BF-LATER"].startswith(f"backfill__{second.isoformat()[:16]}"), taken_by

    page.goto(f"/dags/{DAG_ID}/backfills")
    page.get_by_role("row").nth(1).wait_for()
    shot(page, "backfills-tab")


# -- draining a backlog -------------------------------------------------------------------------------


def test_a_drain_starts_the_next_run_while_customers_wait_one_run_at_a_time(page, local_airflow, shot):
    store = local_airflow.warehouse
    minute_ago = datetime.now(UTC) - timedelta(minutes=1)
    store.add_customers(
        [make_customer(f"DRAIN-{i}", domain="drain.example", requested_at=minute_ago) for i in range(5)]
    )
    waiting = [
        k for (k,) in run_sql(store, f"SELECT customer_key FROM {store.table} WHERE status = 'pending'")
    ]
    assert len(waiting) == 6, waiting  # five new rows and the backfill's BF-AFTER
    before = {r["dag_run_id"] for r in local_airflow.api("GET", f"/dags/{DAG_ID}/dagRuns")["dag_runs"]}

    dialog = _open_trigger(page)
    dialog.locator("input[name=element_max_customers]").fill("3")
    dialog.locator("label").filter(has=page.locator("input[name=element_drain]")).first.click()
    assert dialog.locator("input[name=element_drain]").is_checked()
    shot(dialog, "trigger-dialog-drain")
    first = _trigger(page, dialog)

    def chain() -> list[dict] | None:
        runs = [
            r
            for r in local_airflow.api("GET", f"/dags/{DAG_ID}/dagRuns")["dag_runs"]
            if r["dag_run_id"] not in before
        ]
        done = len(runs) == 2 and all(r["state"] in ("success", "failed") for r in runs)
        return sorted(runs, key=lambda r: r["run_after"]) if done else None

    runs = local_airflow.wait_until(chain, 300, "the drained runs", interval=3)
    assert [r["dag_run_id"] for r in runs][0] == first
    assert [r["state"] for r in runs] == ["success", "success"]
    assert runs[1]["conf"] == {"drain": True, "dry_run": False, "max_customers": 3, "customer_keys": []}
    # Never two at once: the second run started after the first had ended.
    assert runs[1]["start_date"] >= runs[0]["end_date"], runs
    states = [
        _task_instances(local_airflow, DAG_ID, r["dag_run_id"])[("start_next_run", -1)]["state"] for r in runs
    ]
    assert states == ["success", "skipped"]  # the second found nobody waiting and ended the chain
    assert {
        s for (s,) in run_sql(store, f"SELECT status FROM {store.table} WHERE customer_key LIKE 'DRAIN-%'")
    } == {"onboarded"}
    page.goto(f"/dags/{DAG_ID}/runs")
    page.get_by_text(runs[1]["dag_run_id"]).first.wait_for()
    shot(page, "drained-runs")
