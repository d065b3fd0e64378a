"""``make load``: a CSV becomes pending rows; a row with a problem is named by line, key and rule and is
not loaded; the rest is; nothing printed holds a password."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tools.load import load

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)]

HEADER = (
    "customer_key,first_name,last_name,organization_name,registration_account,country_code,"
    "telephone_number,data_center,password,tags,management_mode\n"
)
EAST_US = "e44bb3ed-f1d8-4055-8c77-c8fd8cd63409"


def test_the_sample_file_loads_as_pending_and_a_second_load_leaves_it_alone(warehouse, capsys):
    sample = ROOT / "docs" / "sample-customers.csv"

    assert load(sample) == 0
    assert warehouse.status_counts() == {"pending": 4}
    row = warehouse.rows(["SAMPLE-001"])[0]
    assert (row["tags"], row["management_mode"], row["country_code"]) == ('["vip", "pharma"]', 1, "US")
    assert warehouse.rows(["SAMPLE-003"])[0]["tags"] == '["retail"]'
    assert "loaded 4 as pending" in capsys.readouterr().out

    assert load(sample) == 0
    out = capsys.readouterr().out
    assert "SAMPLE-001: already in the table, left as it is" in out and "loaded 0 as pending" in out
    assert "Initial-Pw" not in out


def test_each_problem_is_named_by_line_key_and_rule_and_the_good_rows_load(warehouse, tmp_path, capsys):
    csv = tmp_path / "customers.csv"
    csv.write_text(
        HEADER
        + f"OK-1,Ann,Lee,Org One,ann@one.example,US,,{EAST_US},Pw-secret-1!,,\n"
        + f"BAD-1,Bob,Ray,Org Two,bob@two.example,us,,{EAST_US},Pw-secret-2!,,maybe\n"
        + f",Cy,Doe,Org Three,cy@three.example,US,,{EAST_US},Pw-secret-3!,,\n"
        + f"DUP,Di,Fox,Org Four,di@four.example,US,,{EAST_US},Pw-secret-4!,,\n"
        + f"DUP,Ed,Gu,Org Five,ed@five.example,US,,{EAST_US},Pw-secret-5!,,\n"
        + f"NOPW,Fe,Ho,Org Six,not-an-email,US,,{EAST_US},,,\n",
        encoding="utf-8",
    )

    assert load(csv) == 1

    out = capsys.readouterr().out
    lines = {line.split(":")[0]: line for line in out.splitlines() if line.startswith("line ")}
    assert lines["line 3 (BAD-1)"].endswith("not loaded: management_mode must be true or false (or empty)")
    assert "line 4 ((no key)): not loaded: customer_key is missing" in out
    assert "line 5 (DUP): not loaded: customer_key appears on lines 5, 6" in out
    assert "line 6 (DUP): not loaded: customer_key appears on lines 5, 6" in out
    nopw = next(line for line in out.splitlines() if line.startswith("line 7 (NOPW)"))
    assert (
        "password is missing or blank" in nopw
        and "registration_account is not a valid e-mail address" in nopw
    )
    assert out.rstrip().endswith(
        'loaded 1 as pending into "customer_onboarding"; 0 already there; 5 with problems'
    )
    assert warehouse.status_counts() == {"pending": 1}
    assert warehouse.rows(["OK-1"])[0]["status"] == "pending"
    assert "Pw-secret" not in out


def test_a_row_breaking_a_validation_rule_is_not_loaded(warehouse, tmp_path, capsys):
    csv = tmp_path / "customers.csv"
    csv.write_text(HEADER + f"LOW,Ann,Lee,Org,ann@low.example,us,,{EAST_US},Pw-1!,,\n", encoding="utf-8")

    assert load(csv) == 1

    assert "line 2 (LOW): not loaded: country_code is not one of the 249" in capsys.readouterr().out
    assert warehouse.status_counts() == {}


def test_a_header_with_unknown_or_missing_columns_loads_nothing(warehouse, tmp_path, capsys):
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_key,first_name,email\nK,Ann,ann@x.example\n", encoding="utf-8")

    assert load(csv) == 2

    err = capsys.readouterr().err
    assert "missing: last_name, organization_name, registration_account" in err and "unknown: email" in err
    assert warehouse.status_counts() == {}
