"""Which e-mail addresses name the same AvePoint account: the one rule every comparison uses.

The hook's look-up in AvePoint's customer list uses it, and so should anything that compares
accounts (a batch's duplicate check, a store's onboarded accounts, a reconciliation), so that
two parts of a pipeline never disagree on whether two rows are one customer.
"""

from __future__ import annotations

import string

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def account_key(account: str) -> str:
    """An e-mail address as compared with AvePoint's list: trimmed, ASCII letters lowered, nothing else.

    AvePoint documents no rule; every case-insensitive comparison it could use treats A-Z and
    a-z alike, and domains are ASCII. Unicode folding (``casefold``: ``straße`` is ``strasse``;
    ``lower``: the Kelvin sign is ``k``) could equate two different accounts, and a false
    match records a customer as onboarded that never was. A missed match is the safe side:
    the POST that follows gets AvePoint's "already exists" instead of a duplicate.
    """
    return account.strip().translate(_ASCII_LOWER)
