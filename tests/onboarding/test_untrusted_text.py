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


# -- the run's note shows text, never Markdown made of it -------------------------------------------------

# What Airflow's UI (react-markdown with remark-gfm, bundled in airflow/ui/dist) turns into links inside
# plain text: mdast-util-gfm-autolink-literal's expressions, applied to text nodes after escapes.
UI_AUTOLINKS = (
    r"(?i)(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)",
    r"(?<![-.\w+])([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)",
)


def rendered_markdown(text: str) -> tuple[list[str], list[str], list[str]]:
    """(plain text pieces, code spans, kinds of other inline tokens) of ``text`` as CommonMark parses it."""
    from markdown_it import MarkdownIt

    texts, code, other = [], [], []
    for block in MarkdownIt("commonmark").parse(text):
        for token in block.children or []:
            if token.type == "text":
                texts.append(token.content)
            elif token.type == "code_inline":
                code.append(token.content)
            elif token.type not in (
                "softbreak",
                "hardbreak",
                "strong_open",
                "strong_close",
                "em_open",
                "em_close",
            ):
                other.append(token.type)
    return texts, code, other


def test_the_run_note_links_nothing_and_escapes_status_keys():
    import re

    from include.onboarding.summary import RunSummary

    reason = "AvePoint said: see https://evil.example/login?x=1 or www.evil.example, mail help@evil.example"
    summary = RunSummary(
        run_id="run-1",
        claimed=2,
        counts={"rejected": 1, "[click](https://evil.example)": 1},
        table_counts={"onboarded": 3, "**loud** <b>x</b>": 2},
        needing_human=[
            {"customer_key": "K-1", "organization_name": "www.contoso.example", "status": "rejected",
             "status_reason": reason},
            {"customer_key": "K-2", "organization_name": "Fabrikam", "status": "[x](https://evil.example)",
             "status_reason": "`tick` https://a.example/`b`"},
        ],
    )  # fmt: skip

    for text in (summary.render(), summary.note()):
        texts, code, other = rendered_markdown(text)
        assert other == [], f"Markdown made of data: {other}"
        for piece in texts:
            assert not any(re.search(pattern, piece) for pattern in UI_AUTOLINKS), piece
        # The values are all there, verbatim, as code.
        assert {"https://evil.example/login?x=1", "www.evil.example,", "help@evil.example", "www.contoso.example",
                "https://a.example/`b`"} <= set(code)  # fmt: skip
        assert "[click](https://evil.example)" in code or "[click](https://evil.example)" in "".join(texts)
    texts, _, _ = rendered_markdown(summary.render())
    assert "**loud** x" not in "".join(texts) and "**loud** <b>x</b>" in "".join(texts)


# -- the configured table name is an identifier, nothing more ------------------------------------------


@pytest.mark.parametrize("name", ["customer_onboarding\n", "crm.customer_onboarding\n", "a\n.b"], ids=repr)
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_table_name_with_a_trailing_newline_is_refused(name, dialect):
    from include.onboarding.warehouse import TableName

    with pytest.raises(ValueError, match="must be an identifier"):
        TableName.parse(name, dialect)


# -- one account identity ----------------------------------------------------------------------------------


def test_onboarded_accounts_match_by_the_provider_s_account_identity(warehouse):
    """PostgreSQL's lower() folds the Kelvin sign to k: SQL may only narrow the search, never decide."""
    onboarded = {"K1": "\u212aelvin@x.example", "S1": "STRASSE@x.example", "A1": "Ann@X.example"}
    warehouse.add_customers(
        [
            make_customer(key, registration_account=account, requested_at=T0)
            for key, account in onboarded.items()
        ]
    )
    run_sql(warehouse, f"UPDATE {warehouse.table} SET status = 'onboarded'")

    found = warehouse.onboarded_accounts(
        ["kelvin@x.example", "stra\u00dfe@x.example", "strasse@x.example", " ANN@x.example", "bob@x.example"]
    )

    assert found == {"strasse@x.example", "ann@x.example"}
    assert warehouse.onboarded_accounts(["\u212aELVIN@x.example"]) == {"\u212aelvin@x.example"}
