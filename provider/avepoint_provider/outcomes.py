"""One customer's onboarding attempt: what it sends, what each AvePoint answer means, how it ended."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from avepoint_provider.customer import Customer

# AvePoint's onboarding ``status`` codes, as documented.
API_STATUS_MEANINGS: dict[int, str] = {
    1: "successful",
    2: "failed",
    3: "customer does not exist",
    4: "failed to register customer",
    5: "customer is managed by current partner",
    6: "customer is the same as current partner",
    7: "customer already exists",
}


class Outcome(StrEnum):
    """How an attempt ended; a pipeline may use the values as statuses of its own."""

    ONBOARDED = "onboarded"
    REJECTED = "rejected"
    CONFLICT = "conflict"
    RETRY = "retry"
    # A retry outcome once the customer has used its attempts.
    FAILED = "failed"


@dataclass(frozen=True)
class Decision:
    """The outcome an API status leads to, and whether the list endpoint must be asked first."""

    outcome: Outcome
    reason: str
    # Status 7 (and a success without an id) is settled by looking the account up.
    needs_lookup: bool = False


def describe(api_status: int) -> str:
    return f"status {api_status} ({API_STATUS_MEANINGS.get(api_status, 'undocumented')})"


def decide(api_status: int | None, customer_id: str | None) -> Decision:
    """Map an onboarding reply's ``status`` to the attempt's outcome, per the contract."""
    if api_status in (1, 5):
        what = "AvePoint created the customer" if api_status == 1 else "the customer was already ours"
        return Decision(Outcome.ONBOARDED, f"{what}: {describe(api_status)}", needs_lookup=not customer_id)
    if api_status in (3, 6):
        return Decision(Outcome.REJECTED, f"AvePoint refused the customer: {describe(api_status)}")
    if api_status in (2, 4):
        return Decision(
            Outcome.RETRY, f"AvePoint could not onboard the customer this time: {describe(api_status)}"
        )
    if api_status == 7:
        return Decision(
            Outcome.CONFLICT,
            f"the account already exists in AvePoint: {describe(api_status)}",
            needs_lookup=True,
        )
    return Decision(
        Outcome.RETRY, f"AvePoint answered an undocumented status {api_status!r}; trying again later"
    )


def final_status(outcome: Outcome, attempt: int, max_attempts: int) -> Outcome:
    """A ``retry`` outcome becomes ``failed`` once the customer has used its attempts."""
    return Outcome.FAILED if outcome == Outcome.RETRY and attempt >= max_attempts else outcome


@dataclass(frozen=True)
class Attempt:
    """An attempt counted before sending: its number (1 for the first) and the customer to send."""

    number: int
    customer: Customer


@dataclass(frozen=True)
class OnboardOutcome:
    """What one attempt ended in; JSON-safe through :meth:`to_dict` (no password, no body)."""

    customer_key: str
    # onboarded, rejected, conflict or retry: what AvePoint's answer means
    outcome: str
    # the outcome, or ``failed`` once a retry outcome has used the last attempt
    status: str
    reason: str
    attempt: int
    api_status: int | None = None
    avepoint_customer_id: str | None = None
    http_status: int | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Plain strings for XCom, whatever enum the outcome and status were given as.
        return {k: v.value if isinstance(v, Enum) else v for k, v in asdict(self).items()}
