"""The status lifecycle of a warehouse row (see the README): one enum for Python and SQL.

SQL receives these values as bound parameters; only DDL (a column default, the partial
index's predicate, which PostgreSQL must match at plan time) renders them as literals,
from this enum too.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """A row's status, in the order a summary lists them."""

    ONBOARDED = "onboarded"
    INVALID = "invalid"
    REJECTED = "rejected"
    CONFLICT = "conflict"
    RETRY = "retry"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"
    PENDING = "pending"


# A run may take these rows (an in_progress one only once its claim is stale).
CLAIMABLE = (Status.PENDING, Status.RETRY, Status.IN_PROGRESS)
# A row in one of these was settled by the run that holds it.
FINAL = frozenset(Status) - {Status.PENDING, Status.IN_PROGRESS}
# What a human must look at, the most urgent decision first.
NEEDS_HUMAN = (Status.CONFLICT, Status.REJECTED, Status.FAILED, Status.INVALID)

# Event outcomes besides the statuses themselves.
EVENT_STOPPED = "stopped"
EVENT_RELEASED = "released"
EVENT_RECOVERED = "recovered"
