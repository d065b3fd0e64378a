"""The one rule by which two account e-mail addresses are the same AvePoint account."""

from __future__ import annotations

import pytest

from avepoint_provider.accounts import account_key


def test_the_hook_module_exports_the_same_rule():
    from avepoint_provider.hooks import avepoint

    assert avepoint.account_key is account_key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (" Ann.Lee@Contoso.Example ", "ann.lee@contoso.example"),  # trimmed, ASCII letters lowered
        ("ANN@X.EXAMPLE", "ann@x.example"),
    ],
)
def test_ascii_case_and_surrounding_space_do_not_matter(one, other):
    assert account_key(one) == account_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("straße@x.example", "strasse@x.example"),  # equal under casefold()
        ("\u212aelvin@x.example", "kelvin@x.example"),  # KELVIN SIGN lowers to a Latin k
        ("Ä@x.example", "ä@x.example"),  # non-ASCII letters are compared as they are
        ("ann@x.example", "ann@x.example."),
    ],
)
def test_no_unicode_folding_makes_two_accounts_one(one, other):
    assert account_key(one) != account_key(other)
