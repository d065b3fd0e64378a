"""The review queue's reads and writes: the customer warehouse plus two statements of its own.

Same conventions as :class:`~include.onboarding.warehouse.CustomerWarehouse`: one SQL file per
method in ``sql/``, bound parameters only, the row's change and its event in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from include.onboarding.warehouse import CustomerWarehouse, _utcnow, key_problem


class ReviewWarehouse(CustomerWarehouse):
    """The customer warehouse with the review queue's statements."""

    def review_rows(
        self, *, run_ids: Sequence[str] = (), keys: Sequence[str] = (), limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Rows needing a human (of ``run_ids``, among ``keys``): at most ``limit``, and whether more wait.

        Returns the rows (key, organization, status) and how many more there are beyond the
        limit (0 or 1: "at least one more"). A row whose key cannot be passed on (an invisible
        character, text that is not UTF-8) is left out: it needs the warehouse itself.
        """
        with self.transaction() as tx:
            rows = tx.run(
                "review_rows",
                all_keys=not keys,
                keys=[str(k) for k in keys],
                all_runs=not run_ids,
                run_ids=[str(r) for r in run_ids],
                limit=int(limit) + 1,
            )
        usable = [r for r in rows if key_problem(r["customer_key"]) is None]
        return usable[:limit], len(usable[limit:])

    def requeue(
        self,
        key: str,
        *,
        seen_status: str,
        values: Mapping[str, Any],
        reason: str,
        reset_attempts: bool,
        outcome: str,
        message: str,
        run_id: str,
        try_number: int | None,
    ) -> bool:
        """Set the row ``pending`` with ``values`` if it is still ``seen_status``; with its event.

        Returns False (and writes nothing) when the row is no longer in ``seen_status``.
        """
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            tx.run(
                "requeue_row",
                key=key,
                seen_status=seen_status,
                reason=reason,
                reset_attempts=reset_attempts,
                now=now,
                **dict(values),
            )
            if tx.rowcount != 1:
                return False
            self._event(tx, key, run_id, try_number, None, outcome, message, now=now)
        return True

    def record_review(
        self, key: str, *, outcome: str, message: str, run_id: str, try_number: int | None
    ) -> None:
        """An event for a review that changed nothing (left alone, or refused)."""
        now = self._timestamp(_utcnow())
        with self.transaction() as tx:
            self._event(tx, key, run_id, try_number, None, outcome, message, now=now)
