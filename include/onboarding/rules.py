"""The validation rules for customer rows, as plain data.

Each rule is one check on one column with the sentence a human reads when a row
breaks it. ``validation.py`` turns them into a Great Expectations suite; the
benchmark turns the same list into vectorised pandas, so both check exactly the
same things. Checks the API docs leave open (lengths, phone format) use limits
chosen here and documented in the README.

Nothing here imports pandas or Great Expectations at module level: the DAG file
imports this package at parse time.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from avepoint_provider.reference import COUNTRY_NAMES, DATA_CENTERS, data_centers_of

# Pragmatic e-mail syntax (WHATWG's, requiring a dot in the domain): what a sign-in account needs.
EMAIL_REGEX = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
# Characters no name, key, code or phone number needs, by Unicode category: controls (Cc: C0, DEL and
# C1 such as U+0085 and U+009B), format characters (Cf: zero-width characters, bidirectional marks
# and overrides, U+061C, U+2060, the soft hyphen, tag characters), line and paragraph separators
# (Zl, Zp), surrogates (Cs), private use (Co) and unassigned code points (Cn). They are invisible in
# a portal, spoof names, break logs, and a NUL cannot be stored in PostgreSQL. Ordinary text in any
# script, right-to-left included, contains none of them.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
# Besides them, what renders as nothing though its category is a letter, mark or symbol: the Unicode
# property Default_Ignorable_Code_Point (U+034F COMBINING GRAPHEME JOINER, the Hangul fillers U+115F,
# U+1160, U+3164 and U+FFA0, variation selectors such as U+FE0F, Mongolian free variation
# selectors...), and U+2800 BRAILLE PATTERN BLANK, a symbol that shows as a blank yet is no space.
# Categories and the property come from the Unicode data of the `regex` library (kept current with
# Unicode), not from Python's unicodedata, which has no such property.
INVISIBLE_PATTERN = (
    "[" + "".join(rf"\p{{{c}}}" for c in sorted(INVISIBLE_CATEGORIES))
    + r"\p{Default_Ignorable_Code_Point}\u2800]"
)  # fmt: skip


@cache
def _invisible() -> Any:
    import regex

    return regex.compile(INVISIBLE_PATTERN)


@cache
def control_chars_regex() -> str:
    """The characters of :data:`INVISIBLE_PATTERN` as a class Python's ``re`` (and so Great
    Expectations and pandas) understands: every code point's ranges, spelled out.

    Built on first use (a few tenths of a second), not at import. Two classes: Python's regex
    engine looks a character up in a class of code points below U+10000 in constant time but scans
    a class reaching beyond it range by range, so the class of the supplementary planes is only
    tried (behind a cheap lookahead) on such a character.
    """
    import array

    import regex

    every_code_point = (
        array.array("I", range(sys.maxunicode + 1)).tobytes().decode("utf-32-le", "surrogatepass")
    )
    ranges = [(m.start(), m.end() - 1) for m in regex.finditer(INVISIBLE_PATTERN + "+", every_code_point)]

    def char_class(part: list[tuple[int, int]]) -> str:
        return "[" + "".join(rf"\U{a:08x}" + (rf"-\U{b:08x}" if b > a else "") for a, b in part) + "]"

    split = next(i for i, (first, _) in enumerate(ranges) if first > 0xFFFF)
    # No range straddles U+FFFF/U+10000: U+FFFF is a noncharacter (Cn), U+10000 a letter.
    return char_class(ranges[:split]) + r"|(?=[\U00010000-\U0010ffff])" + char_class(ranges[split:])


# Blanks before or after text (an all-blank value is reported as blank instead).
EDGE_SPACES_REGEX = r"^\s+\S|\S\s+$"
BLANK_REGEX = r"^\s*$"

# Length limits: AvePoint documents none; these fit what Microsoft 365 and e-mail allow.
MAX_LENGTHS = {
    "customer_key": 128,
    "first_name": 64,
    "last_name": 64,
    "organization_name": 128,
    "registration_account": 254,
    "telephone_number": 32,
    "tags": 4000,
}
MAX_PASSWORD_LENGTH = 256
REQUIRED_TEXT = (
    "first_name",
    "last_name",
    "organization_name",
    "registration_account",
    "country_code",
    "data_center",
)
# Every text column, the key included (keys travel through XCom and logs).
TEXT_COLUMNS = (
    "customer_key",
    "first_name",
    "last_name",
    "organization_name",
    "registration_account",
    "country_code",
    "telephone_number",
    "data_center",
    "tags",
)


@dataclass(frozen=True)
class Rule:
    """One check on one column of the validation frame.

    ``check`` is one of: ``not_null``, ``not_matching`` (regex), ``matching`` (regex),
    ``in_set``, ``not_in_set``, ``max_length`` (of text), ``max_value`` (of a number),
    ``unique``, ``is_true``. Nulls pass every
    check but ``not_null``, so an optional column is checked only when given.
    """

    column: str
    check: str
    message: str
    value: Any = None


def build_rules(*, data_center_family: str, onboarded_accounts: Iterable[str] = ()) -> list[Rule]:
    """Every rule, for a connection whose environment places customers in ``data_center_family``.

    Accounts compare by the provider's :func:`~avepoint_provider.hooks.avepoint.account_key`, the one
    account identity every comparison uses (ASCII letters fold, nothing else: ``straße`` is not
    ``strasse``, the Kelvin sign is not ``k``).
    """
    from avepoint_provider.hooks.avepoint import account_key

    rules: list[Rule] = []
    for column in REQUIRED_TEXT:
        rules += [
            Rule(column, "not_null", f"{column} is missing"),
            Rule(column, "not_matching", f"{column} is blank", BLANK_REGEX),
            Rule(column, "not_matching", f"{column} has leading or trailing spaces", EDGE_SPACES_REGEX),
        ]
    for column in TEXT_COLUMNS:
        rules.append(Rule(column, "not_matching", control_chars_message(column), control_chars_regex()))
    for column, limit in MAX_LENGTHS.items():
        rules.append(Rule(column, "max_length", f"{column} is longer than {limit} characters", limit))
    other_family = data_centers_of("gov" if data_center_family == "commercial" else "commercial")
    rules += [
        Rule("password_present", "is_true", "password is missing or blank"),
        Rule(
            "password_length",
            "max_value",
            f"password is longer than {MAX_PASSWORD_LENGTH} characters",
            MAX_PASSWORD_LENGTH,
        ),
        Rule(
            "registration_account",
            "matching",
            "registration_account is not a valid e-mail address",
            EMAIL_REGEX,
        ),
        Rule("account_key", "unique", "registration_account appears in more than one row of this batch"),
        Rule(
            "account_key",
            "not_in_set",
            "registration_account was already onboarded by another row",
            sorted({account_key(a) for a in onboarded_accounts}),
        ),
        Rule(
            "country_code",
            "in_set",
            "country_code is not one of the 249 two-letter country codes AvePoint accepts (capital letters, e.g. US)",
            sorted(COUNTRY_NAMES),
        ),
        Rule(
            "data_center_key",
            "in_set",
            "data_center is not one of AvePoint's documented data center GUIDs",
            sorted(DATA_CENTERS),
        ),
        Rule(
            "data_center_key",
            "not_in_set",
            f"data_center belongs to the {'US Government' if data_center_family == 'commercial' else 'commercial'} "
            f"cloud, but the AvePoint connection is for the {data_center_family} cloud",
            sorted(other_family),
        ),
        Rule("telephone_plausible", "is_true", "telephone_number is not a plausible phone number"),
        Rule("tags_valid", "is_true", "tags is not a JSON array of strings"),
        Rule("management_mode_valid", "is_true", "management_mode is not true, false or empty"),
    ]
    return rules


def control_chars_message(column: str) -> str:
    return f"{column} contains control or invisible characters (such as NUL or a right-to-left override)"


def has_control_chars(text: str) -> bool:
    """Whether ``text`` holds a character of :data:`INVISIBLE_PATTERN`."""
    return _invisible().search(text) is not None


def printable(text: str) -> str:
    """``text`` with each character of :data:`INVISIBLE_PATTERN` written as an escape (``\\u0000``).

    For showing a value such as a key in a log, a run note or XCom (a NUL cannot be stored in
    PostgreSQL's JSON): what a person sees is then exactly what is in the table, and nothing hides.
    """
    return _invisible().sub(lambda match: f"\\u{ord(match[0]):04x}", text)


def derived_values(row: Mapping[str, Any], password: Mapping[str, Any] | None) -> dict[str, Any]:
    """The columns Great Expectations cannot compute itself, for one row.

    ``password`` is the row's password profile (missing flag and lengths), never the secret.
    """
    from avepoint_provider.hooks.avepoint import account_key

    account = row.get("registration_account")
    data_center = row.get("data_center")
    return {
        "account_key": account_key(account) if isinstance(account, str) else None,
        # GUIDs compare case-insensitively; blanks around one are reported by their own rule.
        "data_center_key": data_center.strip().lower() if isinstance(data_center, str) else None,
        "password_present": bool(password)
        and not password.get("password_missing")
        and (password.get("password_trimmed_length") or 0) > 0,
        "password_length": (password or {}).get("password_length"),
        "telephone_plausible": _plausible_phone(row.get("telephone_number"), row.get("country_code")),
        "tags_valid": _string_array(row.get("tags")),
        "management_mode_valid": None
        if row.get("management_mode") is None
        else row.get("management_mode") in (0, 1, True, False),
    }


def _plausible_phone(number: Any, country_code: Any) -> bool | None:
    if number is None or (isinstance(number, str) and not number.strip()):
        return None
    import phonenumbers

    region = country_code if isinstance(country_code, str) and country_code in COUNTRY_NAMES else None
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(str(number), region))
    except phonenumbers.NumberParseException:
        return False


def _string_array(tags: Any) -> bool | None:
    if tags is None:
        return None
    try:
        value = json.loads(tags) if isinstance(tags, str) else tags
    except ValueError:
        return False
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
