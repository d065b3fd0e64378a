"""Where the onboarding operator keeps its write-ahead state: an interface, no database.

:class:`~avepoint_provider.operators.onboard.AvePointOnboardCustomerOperator` owns the
exactly-once protocol for one customer; a store gives it durable memory across task tries:

1. :meth:`OnboardingStore.begin_attempt` counts the attempt *before* anything is sent and
   hands over the customer with its password (read at execute time, never through XCom).
2. The operator sends, or — when an earlier attempt may have reached AvePoint — first
   looks the account up in AvePoint's list.
3. :meth:`OnboardingStore.record_outcome` is written before the task succeeds.

A pipeline implements it over its own table (atomic claims there also make concurrent runs
safe); the provider ships :class:`~avepoint_provider.stores.variable.VariableOnboardingStore`
for a customer given directly to a DAG.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Imported by a store's methods, not here: a DAG file builds its store at parse time, and
    # two frozen dataclasses cost the parse loop more than the rest of this module.
    from avepoint_provider.outcomes import Attempt, OnboardOutcome


class RunStopped(Exception):
    """The run met a configuration error earlier (the message says which): send nothing more."""


class UnknownCustomer(LookupError):
    """The store has no customer under this key."""


class OnboardingStore(ABC):
    """Durable per-customer state for the onboarding operator.

    Every method is called from the task process at execute time. Implementations must be
    cheap to construct (they are built when the DAG file is parsed) and do their I/O lazily.
    """

    @abstractmethod
    def begin_attempt(self, key: str, run_id: str) -> Attempt | None:
        """Count one attempt for ``key`` held by ``run_id`` and return it with the customer.

        None when ``run_id`` does not hold the customer (another run does, an earlier try of
        this task already recorded its outcome, or the customer is settled for good). Raises :class:`RunStopped`, counting nothing,
        when the run met a configuration error, and :class:`UnknownCustomer` for an unknown key.
        """

    @abstractmethod
    def record_outcome(self, outcome: OnboardOutcome, *, run_id: str, try_number: int | None,
                       event_message: str) -> bool:  # fmt: skip
        """Record the attempt's outcome durably; False when ``run_id`` no longer holds the customer."""

    @abstractmethod
    def recorded_outcome(self, key: str, run_id: str) -> OnboardOutcome | None:
        """The outcome an earlier try of ``run_id`` recorded for ``key``, or None.

        A store may also return the outcome that settled ``key`` for good in an earlier run (e.g.
        ``onboarded``), so that a later run reports it instead of skipping.
        """

    @abstractmethod
    def release(self, key: str, run_id: str, *, reason: str, undo_attempt: bool, try_number: int | None,
                stop_message: str | None) -> str | None:  # fmt: skip
        """A configuration error stopped the run: give ``key`` back as it was before this run.

        ``undo_attempt`` takes the counted attempt back (nothing can have reached AvePoint).
        ``stop_message``, when given, is remembered so that the run's other attempts raise
        :class:`RunStopped`.
        Returns the status the customer went back to, if the store has statuses.
        """
