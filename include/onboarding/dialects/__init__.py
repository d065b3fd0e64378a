"""The engines the warehouse runs on, each in its own module; :func:`dialect_for` picks one.

Everything that differs between engines lives here and in ``sql/<dialect>/``: identifier folding
and quoting, column types, the claim's statements, connection set-up, timestamp binding and error
codes. The lifecycle in ``warehouse.py`` is written once against :class:`Dialect`.
"""

from __future__ import annotations

from include.onboarding.dialects.base import DIALECTS, Dialect, TableName
from include.onboarding.dialects.mysql import MySQL
from include.onboarding.dialects.postgresql import PostgreSQL
from include.onboarding.dialects.snowflake import Snowflake
from include.onboarding.dialects.sqlite import SQLite

DIALECTS.update({d.name: d for d in (SQLite(), PostgreSQL(), MySQL(), Snowflake())})

__all__ = ["DIALECTS", "Dialect", "TableName", "dialect_for"]


def dialect_for(name: str, conn_id: str) -> Dialect:
    """The dialect of SQLAlchemy's engine ``name`` (the connection's), or a ValueError naming the supported ones."""
    if name in DIALECTS:
        return DIALECTS[name]
    supported = ", ".join(d.conn_type for d in DIALECTS.values())
    raise ValueError(
        f"connection {conn_id!r} is a {name!r} database; the warehouse supports connections of type {supported} "
        "(MySQL >= 8.0 and MariaDB >= 10.6 through mysql)"
    )
