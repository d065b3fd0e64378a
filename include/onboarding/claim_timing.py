"""How long a claim must outlast its heartbeat: longer than one onboarding call can take.

``begin_attempt`` refreshes a row's ``claimed_at`` right before the row is sent; another run may
take the row once that heartbeat is older than the claim timeout. If one call to AvePoint (its
in-call retries, its lookups, its last request's timeout) can outlast the timeout, a second run
could take and send a row the first is still sending. So the timeout a run claims with is never
shorter than the call's bound plus a margin: a shorter configured value is raised, with a warning.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from avepoint_provider.hooks.avepoint import AvePointHook

log = logging.getLogger(__name__)

# Beyond the call itself: writing the outcome, and clocks of workers that differ by a few seconds
# (claimed_at is written from the sending worker's clock, compared with the claiming worker's).
MIN_MARGIN_SECONDS = 5.0
MARGIN_FRACTION = 0.1


def effective_claim_timeout(configured: timedelta, hook: AvePointHook) -> timedelta:
    """``configured``, or the call's bound (:meth:`AvePointHook.max_call_seconds`) plus a margin when
    ``configured`` is shorter.
    """
    bound = hook.max_call_seconds()
    needed = timedelta(seconds=bound + max(MIN_MARGIN_SECONDS, MARGIN_FRACTION * bound))
    if configured >= needed:
        return configured
    log.warning(
        "claim_timeout_minutes (%g) is shorter than one onboarding call may take (%g s, from the AvePoint "
        "connection's retry_max_elapsed, lookup_max_elapsed and timeout) plus a margin: a row being sent counts as stale "
        "only after %g s in this run",
        configured.total_seconds() / 60,
        bound,
        needed.total_seconds(),
    )
    return needed
