"""Typed errors of the AvePoint Graph API client.

Every error carries the HTTP status (when there was a response) and AvePoint's
``request-id`` header, so a support ticket can name the exact call. Messages are
built from fixed text plus those two values and never include a secret, a
token, a password or a request body.

An error raised out of ``AvePointHook.onboard_customer`` also says what the call did
before it failed (``requests_made``, ``may_have_reached``), so a caller needs no
side channel on the hook to decide whether the customer may exist.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException


class AvePointError(AirflowException):
    """Base class of every AvePoint client error.

    ``requests_made`` and ``may_have_reached`` are set as the error leaves
    ``AvePointHook.onboard_customer`` (None and False elsewhere): how many HTTP
    requests that call made, and whether an onboarding POST may have reached
    AvePoint before the error (a POST was answered with a success status, or
    failed ambiguously), in which case the customer may exist.
    """

    retryable = False

    def __init__(self, message: str, *, http_status: int | None = None, request_id: str | None = None):
        details = []
        if http_status is not None:
            details.append(f"HTTP {http_status}")
        if request_id:
            details.append(f"request-id {request_id}")
        super().__init__(f"{message} ({', '.join(details)})" if details else message)
        self.http_status = http_status
        self.request_id = request_id
        self.requests_made: int | None = None
        self.may_have_reached = False


class AvePointConfigError(AvePointError):
    """The ``avepoint`` connection is incomplete or malformed."""


class AvePointAuthError(AvePointError):
    """Credentials refused (token endpoint, 401 after one refresh) or access forbidden (403).

    A configuration problem: never retried, and a run that meets it stops.
    """


class AvePointClientError(AvePointError):
    """A 4xx other than 401/403/429: the request itself is wrong; never retried."""


class AvePointNotFoundError(AvePointClientError):
    """HTTP 404: the Graph URL or path is wrong. A configuration problem, never retried."""


class AvePointBadRequestError(AvePointClientError):
    """HTTP 400: AvePoint refused the request's parameters.

    ``field`` names the offending field when AvePoint's error body says so.
    """

    def __init__(self, message: str, *, field: str | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.field = field


class AvePointTransientError(AvePointError):
    """A failure worth retrying: 5xx, timeout, dropped connection, malformed reply.

    ``ambiguous`` is true when the request may have reached AvePoint and been
    acted on (a POST that timed out after sending, a 5xx, a lost response):
    a non-idempotent call must be reconciled before it is sent again.
    """

    retryable = True

    def __init__(self, message: str, *, ambiguous: bool = False, **kwargs):
        super().__init__(message, **kwargs)
        self.ambiguous = ambiguous


class AvePointRateLimitedError(AvePointTransientError):
    """HTTP 429. ``retry_after`` is AvePoint's ``Retry-After`` in seconds, when given."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, ambiguous=False, **kwargs)
        self.retry_after = retry_after


class AvePointTimeBudgetError(AvePointTransientError):
    """One call ran out of its time bound (``AvePointHook.max_call_seconds``) before it could finish.

    Transient for the caller, who tries again later, but not retried inside the call: its
    time is up. Sends nothing itself, so never ``ambiguous``; ``may_have_reached`` says
    whether an earlier request of the call may have created the customer.
    """

    retryable = False


class AvePointMalformedResponseError(AvePointTransientError):
    """A 2xx whose body is not the JSON the API documents (HTML page, truncated JSON)."""


class AvePointListingError(AvePointMalformedResponseError):
    """The customer list does not page as documented: it ran past ``AvePointHook.max_list_pages``
    (or its ``totalCount``), or a page brought only customers already listed.

    Transient for the caller, who may try again later, but not retried inside the call: paging
    again would most likely meet the same list.
    """

    retryable = False


# Errors that mean the connection is wrong, not the customer: a run that meets one stops.
CONFIGURATION_ERRORS: tuple[type[AvePointError], ...] = (
    AvePointAuthError,
    AvePointConfigError,
    AvePointNotFoundError,
)
