"""Every validation rule with good and bad rows, through the real Great Expectations suite."""

from __future__ import annotations

import pytest

from include.onboarding.validation import reason_text, validate_rows
from tools.demo.customers import EAST_US, MISTYPED_CANADA, US_GOV

GOOD = {
    "first_name": "Ann",
    "last_name": "Lee",
    "organization_name": "Contoso",
    "registration_account": "ann@contoso.example",
    "country_code": "US",
    "telephone_number": None,
    "data_center": EAST_US,
    "tags": None,
    "management_mode": None,
}
CONTROL = "contains control or invisible characters (such as NUL or a right-to-left override)"
PASSWORD_OK = {"password_missing": False, "password_length": 12, "password_trimmed_length": 12}

# (case id, changes to a good row, password profile or None for a good one, the exact broken rules)
CASES = [
    ("good", {}, None, []),
    ("good-everything-given", {"telephone_number": "+44 20 7946 0958", "country_code": "GB",
        "tags": '["vip", "eu"]', "management_mode": 1}, None, []),
    ("good-rtl-and-emoji-names", {"first_name": "مريم", "last_name": "כהן 🚀", "organization_name": "Ünïcødé Ltd"}, None, []),
    ("good-sql-in-a-name", {"organization_name": "Robert'); DROP TABLE customers;--"}, None, []),
    ("good-upper-case-guid", {"data_center": EAST_US.upper()}, None, []),
    ("good-management-mode-false", {"management_mode": False}, None, []),
    ("first-name-missing", {"first_name": None}, None, ["first_name is missing"]),
    ("last-name-blank", {"last_name": "   "}, None, ["last_name is blank"]),
    ("org-padded", {"organization_name": " Contoso "}, None, ["organization_name has leading or trailing spaces"]),
    ("first-name-nul", {"first_name": "A\x00nn"}, None,
        ["first_name contains control or invisible characters (such as NUL or a right-to-left override)"]),
    ("last-name-rtl-override", {"last_name": "Lee\u202egnp.exe"}, None,
        ["last_name contains control or invisible characters (such as NUL or a right-to-left override)"]),
    # Every Unicode control, format, separator, private-use and unassigned character, in every text column.
    ("first-name-c1-next-line", {"first_name": "A\u0085nn"}, None, [f"first_name {CONTROL}"]),
    ("last-name-c1-csi", {"last_name": "Lee\u009b2J"}, None, [f"last_name {CONTROL}"]),
    ("org-arabic-letter-mark", {"organization_name": "Contoso\u061c"}, None, [f"organization_name {CONTROL}"]),
    ("org-word-joiner", {"organization_name": "Con\u2060toso"}, None, [f"organization_name {CONTROL}"]),
    ("first-name-line-separator", {"first_name": "A\u2028nn"}, None, [f"first_name {CONTROL}"]),
    ("last-name-paragraph-separator", {"last_name": "L\u2029ee"}, None, [f"last_name {CONTROL}"]),
    ("last-name-soft-hyphen", {"last_name": "L\u00adee"}, None, [f"last_name {CONTROL}"]),
    ("org-tag-characters", {"organization_name": "Contoso\U000e0041\U000e007f"}, None,
        [f"organization_name {CONTROL}"]),
    ("first-name-private-use", {"first_name": "Ann\ue000"}, None, [f"first_name {CONTROL}"]),
    ("first-name-unassigned", {"first_name": "Ann\U000e0080"}, None, [f"first_name {CONTROL}"]),
    # Default-ignorable characters of other categories, and the Braille blank: shown as nothing or blank.
    ("org-combining-grapheme-joiner", {"organization_name": "Con\u034ftoso"}, None, [f"organization_name {CONTROL}"]),
    ("first-name-hangul-filler", {"first_name": "\u3164"}, None, [f"first_name {CONTROL}"]),
    ("last-name-hangul-choseong-filler", {"last_name": "Lee\u115f"}, None, [f"last_name {CONTROL}"]),
    ("org-variation-selector", {"organization_name": "Contoso \u2764\ufe0f"}, None, [f"organization_name {CONTROL}"]),
    ("first-name-braille-blank", {"first_name": "Ann\u2800"}, None, [f"first_name {CONTROL}"]),
    ("phone-c1", {"telephone_number": "+1 206 555 0101\u0085"}, None,
        [f"telephone_number {CONTROL}"]),
    ("tags-nul", {"tags": '["vip\x00"]'}, None, [f"tags {CONTROL}", "tags is not a JSON array of strings"]),
    ("data-center-zero-width", {"data_center": EAST_US + "\u200b"}, None,
        [f"data_center {CONTROL}", "data_center is not one of AvePoint's documented data center GUIDs"]),
    ("account-nul", {"registration_account": "ann\x00@contoso.example"}, None,
        [f"registration_account {CONTROL}", "registration_account is not a valid e-mail address"]),
    ("country-bom", {"country_code": "\ufeffUS"}, None, [f"country_code {CONTROL}",
        "country_code is not one of the 249 two-letter country codes AvePoint accepts (capital letters, e.g. US)"]),
    ("good-no-break-space-and-accents", {"organization_name": "Caf\u00e9\u00a0Ltd", "last_name": "O\u2019Neil"},
        None, []),
    ("first-name-too-long", {"first_name": "x" * 65}, None, ["first_name is longer than 64 characters"]),
    ("org-10000-chars", {"organization_name": "y" * 10_000}, None, ["organization_name is longer than 128 characters"]),
    ("email-syntax", {"registration_account": "ann(at)contoso"}, None,
        ["registration_account is not a valid e-mail address"]),
    ("email-sql-injection", {"registration_account": "x'; DROP TABLE t;--@x.example"}, None,
        ["registration_account is not a valid e-mail address"]),
    ("email-missing", {"registration_account": None}, None, ["registration_account is missing"]),
    ("country-lowercase", {"country_code": "us"}, None,
        ["country_code is not one of the 249 two-letter country codes AvePoint accepts (capital letters, e.g. US)"]),
    ("country-unknown", {"country_code": "XX"}, None,
        ["country_code is not one of the 249 two-letter country codes AvePoint accepts (capital letters, e.g. US)"]),
    ("data-center-typo", {"data_center": MISTYPED_CANADA}, None,
        ["data_center is not one of AvePoint's documented data center GUIDs"]),
    ("data-center-gov-under-commercial", {"data_center": US_GOV}, None,
        ["data_center belongs to the US Government cloud, but the AvePoint connection is for the commercial cloud"]),
    ("phone-implausible", {"telephone_number": "12"}, None, ["telephone_number is not a plausible phone number"]),
    ("phone-too-long", {"telephone_number": "+1 206 555 0101 0101 0101 0101 01"}, None,
        ["telephone_number is longer than 32 characters", "telephone_number is not a plausible phone number"]),
    ("tags-object", {"tags": '{"vip": true}'}, None, ["tags is not a JSON array of strings"]),
    ("tags-numbers", {"tags": "[1, 2]"}, None, ["tags is not a JSON array of strings"]),
    ("tags-not-json", {"tags": "vip, eu"}, None, ["tags is not a JSON array of strings"]),
    ("management-mode-text", {"management_mode": "yes"}, None, ["management_mode is not true, false or empty"]),
    ("password-missing", {}, {"password_missing": True, "password_length": None, "password_trimmed_length": None},
        ["password is missing or blank"]),
    ("password-blank", {}, {"password_missing": False, "password_length": 3, "password_trimmed_length": 0},
        ["password is missing or blank"]),
    ("password-too-long", {}, {"password_missing": False, "password_length": 300, "password_trimmed_length": 300},
        ["password is longer than 256 characters"]),
    ("everything-wrong", {"first_name": None, "country_code": "usa", "data_center": "nope", "tags": "[",
        "registration_account": "bad"}, None,
        ["first_name is missing", "registration_account is not a valid e-mail address",
         "country_code is not one of the 249 two-letter country codes AvePoint accepts (capital letters, e.g. US)",
         "data_center is not one of AvePoint's documented data center GUIDs", "tags is not a JSON array of strings"]),
]  # fmt: skip


def batch():
    rows, profiles = [], {}
    for n, (case, changes, profile, _) in enumerate(CASES):
        row = GOOD | {"customer_key": case, "registration_account": f"user{n}@contoso.example"} | changes
        rows.append(row)
        profiles[case] = profile or PASSWORD_OK
    rows += [
        GOOD | {"customer_key": "dup-a", "registration_account": "twin@contoso.example"},
        GOOD | {"customer_key": "dup-b", "registration_account": "TWIN@contoso.example"},
        GOOD | {"customer_key": "done-before", "registration_account": "already@contoso.example"},
    ]
    profiles |= {k: PASSWORD_OK for k in ("dup-a", "dup-b", "done-before")}
    return rows, profiles


@pytest.fixture(scope="module")
def failures():
    rows, profiles = batch()
    return validate_rows(
        rows, profiles, data_center_family="commercial", onboarded_accounts={"already@contoso.example"}
    )


@pytest.mark.parametrize(("case", "expected"), [(c[0], c[3]) for c in CASES], ids=[c[0] for c in CASES])
def test_rule(failures, case, expected):
    assert sorted(failures.get(case, [])) == sorted(expected)


def test_duplicate_accounts_in_one_batch_are_both_invalid(failures):
    duplicate = "registration_account appears in more than one row of this batch"
    assert failures["dup-a"] == [duplicate] and failures["dup-b"] == [duplicate]


def test_an_account_another_row_onboarded_is_invalid(failures):
    assert failures["done-before"] == ["registration_account was already onboarded by another row"]


def test_accounts_are_compared_by_the_provider_s_account_identity():
    """Only ASCII letters fold: the Kelvin sign is no k and ß no ss, so no row is called another's duplicate."""
    accounts = {"kelvin": "kelvin@contoso.example", "kelvin-sign": "\u212aelvin@contoso.example",
                "strasse": "strasse@contoso.example", "strasse-sharp-s": "stra\u00dfe@contoso.example",
                "ann": "ann@contoso.example", "ann-upper": " ANN@Contoso.Example"}  # fmt: skip
    rows = [
        GOOD | {"customer_key": key, "registration_account": account} for key, account in accounts.items()
    ]
    onboarded = {"\u212aELVIN@contoso.example", "STRASSE@contoso.example"}

    result = validate_rows(rows, dict.fromkeys(accounts, PASSWORD_OK), data_center_family="commercial",
                           onboarded_accounts=onboarded)  # fmt: skip

    syntax = "registration_account is not a valid e-mail address"
    duplicate = "registration_account appears in more than one row of this batch"
    assert {key: sorted(messages) for key, messages in result.items()} == {
        "kelvin-sign": [syntax, "registration_account was already onboarded by another row"],
        "strasse": ["registration_account was already onboarded by another row"],
        "strasse-sharp-s": [syntax],
        "ann": [duplicate],
        "ann-upper": [duplicate, "registration_account has leading or trailing spaces", syntax],
    }


def test_a_gov_connection_refuses_commercial_data_centers():
    rows = [
        GOOD | {"customer_key": "c", "registration_account": "c@contoso.example"},
        GOOD | {"customer_key": "g", "registration_account": "g@contoso.example", "data_center": US_GOV},
    ]
    result = validate_rows(rows, {"c": PASSWORD_OK, "g": PASSWORD_OK}, data_center_family="gov")
    assert result == {
        "c": ["data_center belongs to the commercial cloud, but the AvePoint connection is for the gov cloud"]
    }


def test_reason_text_lists_every_rule_once():
    assert reason_text(["a is missing", "b is blank", "a is missing"]) == "a is missing; b is blank"


def test_no_rows_no_work():
    assert validate_rows([], {}, data_center_family="commercial") == {}


@pytest.mark.parametrize(
    "bad", ["K\x00EY", "K\u0085EY", "K\u202eEY", "K\U000e0041EY", "K\u3164EY", "K\u2800EY"], ids=repr
)
def test_a_customer_key_with_control_characters_is_invalid(bad):
    rows = [
        GOOD | {"customer_key": bad},
        GOOD | {"customer_key": "fine", "registration_account": "f@contoso.example"},
    ]
    result = validate_rows(rows, {bad: PASSWORD_OK, "fine": PASSWORD_OK}, data_center_family="commercial")
    assert result == {bad: [f"customer_key {CONTROL}"]}


def test_the_control_character_regex_matches_exactly_what_the_unicode_data_says():
    """Every code point: the class Great Expectations runs (Python's ``re``) matches exactly what the
    ``regex`` library's Unicode data calls invisible, and each assigned code point of those categories
    by Python's own unicodedata too."""
    import array
    import re
    import sys
    import unicodedata

    import regex

    from include.onboarding.rules import INVISIBLE_CATEGORIES, INVISIBLE_PATTERN, control_chars_regex

    every = array.array("I", range(sys.maxunicode + 1)).tobytes().decode("utf-32-le", "surrogatepass")
    ours = re.compile(f"(?:{control_chars_regex()})+")
    # Maximal runs of matching code points: equal runs, equal sets.
    assert [m.span() for m in ours.finditer(every)] == [
        m.span() for m in regex.finditer(INVISIBLE_PATTERN + "+", every)
    ]
    for char in "\u034f\u115f\u1160\u3164\uffa0\ufe0f\u180b\U000e01ef\u2800":
        assert ours.fullmatch(char), f"U+{ord(char):04X}"
    assert not ours.search("Ann Lee-O’Neil مريم כהן 🚀 Ünïcødé\u00a0")
    assigned = "".join(
        char
        for char in every
        if (category := unicodedata.category(char)) != "Cn" and category in INVISIBLE_CATEGORIES
    )
    assert ours.fullmatch(assigned)
