"""Warehouse text as it may travel: keys and names checked, escaped, or never decoded at all.

A value read from the customer table goes into XCom, logs, task labels, the run's note and
events. These helpers decide what may go there and how it is shown; they never interpret the
text (no template, no SQL, no Markdown link: see docs/SECURITY.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from include.onboarding.rules import control_chars_message, has_control_chars, printable


class Undecodable(str):
    """A SQLite text value that is not valid UTF-8 (e.g. a Windows-1252 CSV imported as is).

    Stands in for the value, which is never decoded, shown or logged; see :func:`undecodable_columns`.
    """

    __slots__ = ()


def decode_sqlite_text(data: bytes) -> str:
    """The sqlite3 driver's ``text_factory``: UTF-8 text, or :class:`Undecodable` in its place.

    The driver's own decoding error quotes the column's text (a password, maybe).
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return Undecodable()


def undecodable_columns(row: Mapping[str, Any]) -> list[str]:
    """The columns of ``row`` whose stored text is not valid UTF-8."""
    return [column for column, value in row.items() if isinstance(value, Undecodable)]


def undecodable_reason(columns: Sequence[str]) -> str:
    return (
        f"{', '.join(columns)} {'is' if len(columns) == 1 else 'are'} not valid UTF-8 text "
        "(re-import the data as UTF-8; the value is not shown)"
    )


def key_problem(key: Any) -> str | None:
    """Why a claimed row's key must not be passed on (into XCom, logs, task labels), or None.

    XCom on PostgreSQL is JSON, which cannot hold a NUL, and a control or invisible character
    in a key would hide in every log and label that shows it.
    """
    if isinstance(key, Undecodable):
        return undecodable_reason(["customer_key"])
    if has_control_chars(str(key)):
        return control_chars_message("customer_key")
    return None


def display_text(value: Any) -> Any:
    """A key or name as it may be shown: invisible characters escaped, undecodable bytes never decoded."""
    if isinstance(value, Undecodable):
        return "(not valid UTF-8)"
    return printable(value) if isinstance(value, str) else value
