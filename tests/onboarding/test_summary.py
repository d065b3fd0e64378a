"""The run summary's note (``include/onboarding/summary.py``): what the DAG run's note shows in the
UI, within Airflow's size limit.
"""

from __future__ import annotations

from include.onboarding.summary import NOTE_MAX_CHARS, RunSummary, pick_rows

LONG = (
    "country_code is not one of the 249 two-letter country codes AvePoint accepts (capital letters, e.g. US)"
)


def _people(invalid: int) -> list[dict]:
    rows = [
        {"customer_key": "C-7", "organization_name": "Globex", "status": "conflict",
         "status_reason": "the account already exists in AvePoint: status 7, under another partner"},
        {"customer_key": "C-6", "organization_name": "Own", "status": "rejected",
         "status_reason": "AvePoint refused the customer: status 6"},
    ]  # fmt: skip
    rows += [
        {
            "customer_key": f"I-{n:02d}",
            "organization_name": f"Org {n}",
            "status": "invalid",
            "status_reason": LONG,
        }
        for n in range(invalid)
    ]
    return rows


def test_a_short_note_still_shows_every_kind_of_problem():
    shown, left_out = pick_rows(_people(invalid=9), limit=3)
    assert [r["status"] for r in shown] == ["conflict", "rejected", "invalid"]
    assert left_out == {"invalid": 8}


def test_the_note_fits_airflow_and_lists_whole_reasons_first():
    summary = RunSummary(
        run_id="manual__1",
        claimed=40,
        counts={"onboarded": 29, "invalid": 9, "rejected": 1, "conflict": 1},
        needing_human=_people(invalid=9),
        table_counts={"onboarded": 29, "invalid": 9, "rejected": 1, "conflict": 1},
    )
    note = summary.note()
    assert len(note) <= NOTE_MAX_CHARS
    assert "**Done, with rows needing a human**: 40 customer(s) taken by this run." in note
    assert "onboarded **29** · invalid **9** · rejected **1** · conflict **1**" in note
    assert "- **C-7** Globex · *conflict*: the account already exists in AvePoint: status 7" in note
    assert "- **C-6** Own · *rejected*: AvePoint refused the customer: status 6" in note
    assert (
        "country\\_code is not one of the 249 two-letter country codes AvePoint accepts (capital letters, e.g. US)"
        in note
    )
    assert "more (" in note and "invalid): see the finish_run task log." in note
    # Markdown blocks are separated by blank lines, so the UI renders a heading line, a list, a paragraph.
    assert "\n\n**Needs a human (11):**\n\n- " in note
    full = summary.render()
    assert full.count("\n- **") == 11 and "more (" not in full


def test_a_dry_run_note_says_what_would_happen():
    summary = RunSummary(
        run_id="manual__2",
        dry_run=True,
        invalid_rows=[r | {"status": "invalid"} for r in _people(invalid=1)[2:]],
        would_send=[{"customer_key": "OK-1", "organization_name": "Fine Ltd"}],
    )
    note = summary.note()
    assert note.startswith("**Dry run**: nothing was claimed, sent or changed. 1 customer(s) would be sent")
    assert "**Would be marked invalid (1):**" in note and "**Would send:** **OK-1** Fine Ltd." in note
