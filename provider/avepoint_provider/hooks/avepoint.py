"""Airflow hook for the AvePoint Graph API (Elements partner customer endpoints).

Built on HttpHook through its public methods only: the connection's ``host`` is the Graph URL
(``base_url``), its extras ``verify``, ``cert`` and ``proxies`` configure the session as they
do for any HTTP connection, and ``run()``, ``run_with_advanced_retry()`` and ``run_and_check()``
send authenticated requests to the Graph API. Where HttpHook is weaker for this API the public
method is overridden: ``get_conn()`` builds one ``requests.Session`` that serves the hook for its
whole life with one bearer token (HttpHook builds a session per call), no extra ever becomes a
header and the client id/secret never go out as basic auth; ``check_response()`` types errors by
HTTP status with AvePoint's request-id (HttpHook logs error bodies, which can echo a request's
values). Every request has a timeout and none follows a redirect; the customer endpoints retry
per :class:`~avepoint_provider.retry.RetryPolicy`. Onboarding is not idempotent, so after an
ambiguous failure the hook looks the customer up in the list endpoint before it POSTs again.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import html
import itertools
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk.log import mask_secret
from requests.auth import AuthBase
from urllib3.util import parse_url

from avepoint_provider.accounts import account_key
from avepoint_provider.errors import (
    AvePointAuthError,
    AvePointBadRequestError,
    AvePointClientError,
    AvePointConfigError,
    AvePointError,
    AvePointListingError,
    AvePointMalformedResponseError,
    AvePointNotFoundError,
    AvePointRateLimitedError,
    AvePointTimeBudgetError,
    AvePointTransientError,
)
from avepoint_provider.outcomes import decide
from avepoint_provider.retry import RetryPolicy
from avepoint_provider.settings import ENVIRONMENTS, AvePointSettings, read_private_key_file

if TYPE_CHECKING:
    from avepoint_provider.customer import Customer

__all__ = ["AvePointHook", "OnboardResponse", "account_key"]

ONBOARD_PATH = "/partner/external/v3/general/customers"
LIST_PATH = "/partner/external/v3/general/customers/batch"
MAX_PAGE_SIZE = 100
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RETRYABLE_HTTP_STATUSES = frozenset({500, 502, 503, 504})
# AvePoint's documented token life, assumed when a reply gives no usable expires_in.
TOKEN_LIFETIME = 3600.0
# A token is renewed this long before AvePoint says it expires (or at 90% of a shorter life).
TOKEN_RENEWAL_MARGIN = 60.0
# Test Connection runs in the API server's request: each of its requests waits at most this long.
TEST_CONNECTION_TIMEOUT = 10.0
# An echo of a request value cut short is redacted from its first this many characters on.
REDACT_PREFIX_MIN = 6
DEFAULT_PORTS = {"http": 80, "https": 443}

Page = dict[str, Any]
PageFetcher = Callable[[int, int, dict[str, Any]], Page]


@dataclass(frozen=True)
class OnboardResponse:
    """What one ``onboard_customer`` call learned. JSON-safe via :meth:`to_dict`."""

    api_status: int | None
    # The reply's id; after a look-up that found the customer, the id the list gives (or None).
    customer_id: str | None
    http_status: int | None
    request_id: str | None
    # True when the customer was found in the list endpoint instead of being POSTed (again).
    found_by_lookup: bool
    # HTTP requests this call made (token, POSTs and lookups), for the event log.
    requests_made: int
    # After a reply that does not settle the customer by itself (status 7, or a success without
    # an id: see avepoint_provider.outcomes.decide), whether the partner's list has the account,
    # looked up within the same call; None when the reply needed no look-up.
    listed: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Token:
    value: str
    renew_at: float


@dataclass
class _Call:
    """What one public call has done so far; local to the call, so the hook keeps no per-call state."""

    requests_made: int = 0
    # An onboarding POST may have reached AvePoint: answered with success, or failed ambiguously.
    may_have_reached: bool = False
    # The customer may exist already: look it up before (re)sending.
    may_exist: bool = False
    # Seconds of list lookups this call may still spend.
    lookup_left: float = math.inf
    # time.monotonic() after which the call starts no request (see AvePointHook.max_call_seconds).
    deadline: float = math.inf
    # Seconds each request of the call may wait, when not the connection's timeout.
    timeout: float | None = None


class AvePointHook(HttpHook):
    """Talks to the AvePoint Graph API with the ``avepoint`` connection ``avepoint_conn_id``.

    :param avepoint_conn_id: the connection (``host`` Graph URL, ``login`` client id,
        ``password`` client secret; extras ``environment``, ``token_url``, ``scope``,
        ``timeout``, ``private_key``/``private_key_path``, ``retry_*``, ``verify``, ``cert``,
        ``proxies``).
    :param retry_policy: overrides the policy read from the connection.
    :param timeout: overrides the per-request timeout (seconds) read from the connection.
    :param kwargs: passed to HttpHook (e.g. ``tcp_keep_alive``, ``adapter``); not ``auth_type``:
        the hook authenticates with its own bearer token.
    """

    conn_name_attr = "avepoint_conn_id"
    default_conn_name = "avepoint_default"
    conn_type = "avepoint"
    hook_name = "AvePoint Graph API"
    default_headers = {"Accept": "application/json", "User-Agent": "airflow-provider-avepoint"}
    # No listing is paged further (100,000 customers at 100 a page): a list that never ends
    # must not be paged forever. Raise it on the class or an instance for a larger partner.
    max_list_pages = 1000

    def __init__(
        self,
        avepoint_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.pop("auth_type", None) is not None:
            raise TypeError("AvePointHook takes no auth_type: it authenticates with its own bearer token")
        super().__init__(method="POST", http_conn_id=avepoint_conn_id, **kwargs)
        self.avepoint_conn_id = avepoint_conn_id
        self._retry_policy_override = retry_policy
        self._timeout_override = timeout
        self._session: requests.Session | None = None
        self._token: _Token | None = None

    # -- configuration -------------------------------------------------------------------------

    @cached_property
    def settings(self) -> AvePointSettings:
        settings = AvePointSettings.from_connection(self.get_connection(self.avepoint_conn_id))
        # Register every secret before anything could log it.
        mask_secret(settings.client_secret)
        _mask_private_key(settings.private_key)
        return settings

    @cached_property
    def _private_key(self) -> str:
        """The PEM key that signs client assertions: pasted into the connection, or read from
        ``private_key_path`` when first needed (see :func:`~avepoint_provider.settings.read_private_key_file`)."""
        settings = self.settings
        if settings.private_key:
            return settings.private_key  # registered with the masker by ``settings``
        key = read_private_key_file(self.avepoint_conn_id, settings.private_key_path or "")
        _mask_private_key(key)
        return key

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry_policy_override or self.settings.retry

    @property
    def timeout(self) -> float:
        return self._timeout_override or self.settings.timeout

    def max_call_seconds(self) -> float:
        """The longest one :meth:`onboard_customer` call can take, in seconds.

        Its retries start no later than the policy's ``max_elapsed``, its lookups spend at
        most ``lookup_max_elapsed`` in all, and no request starts after both have passed; the
        last one may then take its connect and its read timeout. A caller that holds a claim
        while the call runs (a heartbeat, a lease) sizes it from this. The bound assumes each
        read completes within the timeout: requests has no total timeout, so a server that
        trickles a reply byte by byte could stretch one read further.
        """
        policy = self.retry_policy
        return policy.max_elapsed + policy.lookup_max_elapsed + 2 * self.timeout

    def get_conn(
        self, headers: dict[str, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> requests.Session:
        """The hook's one session, built from the connection on first use, then reused.

        As HttpHook builds it, without what this API must not have: ``verify``, ``cert`` and
        ``proxies`` from the extras, the hook's ``default_headers``, HttpHook's TCP keep-alive
        adapter (or the ``adapter`` given), and ``base_url`` set to the Graph URL; but no other
        extra becomes a header and the session has no auth, so the client secret goes only to
        the token endpoint. The bearer token is added per request. Per-call ``headers`` and
        ``extra_options`` would change a session other calls share, so they are refused: give
        them to :meth:`run`.
        """
        if headers or extra_options:
            raise TypeError("AvePointHook shares one session: pass headers and options per request")
        if self._session is None:
            settings = self.settings
            session = requests.Session()
            session.headers.update(self.default_headers)
            session.verify = settings.verify
            session.cert = settings.cert
            session.proxies = dict(settings.proxies)
            adapter = self.adapter or self.keep_alive_adapter
            if adapter is not None:
                session.mount("http://", adapter)
                session.mount("https://", adapter)
            self.base_url = settings.graph_url
            self._session = session
        return self._session

    @property
    def session(self) -> requests.Session:
        return self.get_conn()

    @cached_property
    def _transport_overrides(self) -> dict[str, Any]:
        """The connection's own ``verify``/``cert``/``proxies``, passed again with every request as
        HttpHook.run_and_check does: requests lets ``REQUESTS_CA_BUNDLE`` and ``*_PROXY`` override
        a session's settings, but not a request's. Settings left at requests' defaults are not
        passed, so the workers' environment (a proxy, a CA bundle) applies to them as it would to
        any HTTP client."""
        settings = self.settings
        overrides: dict[str, Any] = {}
        if settings.verify is not True:
            overrides["verify"] = settings.verify
        if settings.cert:
            overrides["cert"] = settings.cert
        if settings.proxies:
            overrides["proxies"] = dict(settings.proxies)
        return overrides

    def check_response(self, response: requests.Response) -> None:
        """HttpHook's status check, typed by status and without logging the body (it may echo
        request values): a status of 400 or more raises an :class:`~avepoint_provider.errors.AvePointError`."""
        _raise_for_status(
            response, f"AvePoint {response.request.method} {_path(response.url)}", self.settings.scope
        )

    # -- HttpHook's request methods, authenticated ---------------------------------------------------

    def run(
        self,
        endpoint: str | None = None,
        data: dict[str, Any] | str | None = None,
        headers: dict[str, Any] | None = None,
        extra_options: dict[str, Any] | None = None,
        **request_kwargs: Any,
    ) -> requests.Response:
        """HttpHook.run for the Graph API: one ``self.method`` request to ``endpoint`` on the Graph
        URL with the bearer token, the connection's timeout and transport settings; a status of
        400 or more raises the typed error of :meth:`check_response` (unless ``extra_options``
        has ``"check_response": False``). Not retried: :meth:`run_with_advanced_retry` retries
        it, and :meth:`onboard_customer` and :meth:`list_customers` retry per the policy.

        ``data`` is sent as the query (GET) or the body (other methods); ``request_kwargs`` go
        to ``requests.Request`` (e.g. ``json``, ``params``).
        """
        session = self.get_conn()
        payload = (
            {"params": data} if self.method == "GET" else {} if self.method == "HEAD" else {"data": data}
        )
        request = requests.Request(
            self.method, self.url_from_endpoint(endpoint), headers=headers, **payload, **request_kwargs
        )
        return self.run_and_check(session, session.prepare_request(request), extra_options or {})

    def run_and_check(
        self,
        session: requests.Session,
        prepped_request: requests.PreparedRequest,
        extra_options: dict[str, Any],
    ) -> requests.Response:
        """HttpHook.run_and_check, authenticated: a request to the Graph URL's origin gets the
        bearer token (however it was prepared), and every request the connection's timeout
        unless ``extra_options`` names one."""
        if _origin(prepped_request.url or "") == _origin(self.settings.graph_url):
            prepped_request.prepare_auth(_BearerToken(self.get_token()))
        return super().run_and_check(session, prepped_request, {"timeout": self.timeout, **extra_options})

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    # -- authentication -------------------------------------------------------------------------

    def get_token(self, *, force_refresh: bool = False) -> str:
        """A bearer token, cached until shortly before it expires; transient failures are retried."""
        return self._retrying()(self._current_token, _Call(), force_refresh=force_refresh)

    def _current_token(self, call: _Call, *, force_refresh: bool = False) -> str:
        """The cached token, renewed when forced or about to expire (one request, no retries)."""
        if force_refresh or self._token is None or time.monotonic() >= self._token.renew_at:
            self._token = self._request_token(call)
        return self._token.value

    def _request_token(self, call: _Call) -> _Token:
        settings = self.settings
        form = {"grant_type": "client_credentials", "client_id": settings.client_id, "scope": settings.scope}
        if settings.auth_method == "certificate":
            assertion = self._client_assertion()
            mask_secret(assertion)
            form |= {"client_assertion_type": JWT_BEARER, "client_assertion": assertion}
        else:
            form["client_secret"] = settings.client_secret
        response = self._send(
            call, "POST", settings.token_url, data=form, auth=_credentials_in_form, ambiguous_on_failure=False
        )
        if response.status_code in (400, 401, 403):
            raise AvePointAuthError(
                f"AvePoint identity service refused the {settings.auth_method} of client "
                f"{settings.client_id!r}: {_oauth_error(response)}",
                http_status=response.status_code,
                request_id=_request_id(response),
            )
        _raise_for_status(response, f"AvePoint POST {_path(settings.token_url)}", settings.scope)
        body = self._json_body(response, "POST", _path(settings.token_url), ambiguous=False)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AvePointMalformedResponseError(
                "AvePoint identity service answered without an access_token",
                http_status=response.status_code,
                request_id=_request_id(response),
            )
        mask_secret(token)
        try:
            lifetime = float(body.get("expires_in", TOKEN_LIFETIME))
        except (TypeError, ValueError):
            lifetime = TOKEN_LIFETIME
        if not 0 < lifetime < math.inf:  # NaN too: a NaN renewal time would never come
            lifetime = TOKEN_LIFETIME
        margin = min(TOKEN_RENEWAL_MARGIN, lifetime * 0.1)
        return _Token(token, time.monotonic() + lifetime - margin)

    def _client_assertion(self) -> str:
        """An RS256 JWT client assertion signed with the certificate's private key."""
        import jwt  # PyJWT; imported here so secret-only setups never pay for it

        settings = self.settings
        key = self._private_key  # a key file is read here, when first needed
        now = int(time.time())
        claims = {
            "iss": settings.client_id,
            "sub": settings.client_id,
            "aud": settings.token_url,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        }
        try:
            return jwt.encode(claims, key, algorithm="RS256")
        except (ValueError, TypeError, jwt.exceptions.PyJWTError) as exc:
            raise AvePointAuthError(
                f"cannot sign a client assertion with the private key of connection "
                f"{self.avepoint_conn_id!r} ({type(exc).__name__})"
            ) from None

    # -- HTTP -------------------------------------------------------------------------------------

    def _send(
        self, call: _Call, method: str, url: str, *, ambiguous_on_failure: bool, **kwargs: Any
    ) -> requests.Response:
        """One HTTP request with a timeout; transport failures become typed errors."""
        what = f"AvePoint {method} {_path(url)}"
        if time.monotonic() >= call.deadline:
            raise AvePointTimeBudgetError(
                f"{what}: not sent, the call's time bound ({self.max_call_seconds():g} s) is spent"
            )
        call.requests_made += 1
        session = self.get_conn()
        timeout = call.timeout or self.timeout
        try:
            response = session.request(
                method, url, timeout=timeout, allow_redirects=False, **self._transport_overrides, **kwargs
            )
        except requests.ConnectTimeout:
            raise AvePointTransientError(f"{what}: could not connect within {timeout:g} s") from None
        except requests.exceptions.SSLError:
            raise AvePointTransientError(
                f"{what}: TLS handshake failed; check the connection's 'verify' (CA bundle) and 'cert'"
            ) from None
        except requests.ReadTimeout:
            raise AvePointTransientError(
                f"{what}: no response within {timeout:g} s", ambiguous=ambiguous_on_failure
            ) from None
        except requests.exceptions.ProxyError:
            raise AvePointTransientError(f"{what}: the proxy refused or failed the request") from None
        except requests.ConnectionError as exc:
            sent = not _never_connected(exc)
            detail = "connection dropped before a response" if sent else "could not connect"
            raise AvePointTransientError(
                f"{what}: {detail}", ambiguous=ambiguous_on_failure and sent
            ) from None
        except requests.RequestException as exc:
            raise AvePointTransientError(
                f"{what}: {type(exc).__name__} while reading the response", ambiguous=ambiguous_on_failure
            ) from None
        if response.is_redirect:
            # Never followed: a 307/308 would resend the form (the client secret) or the customer
            # to wherever the Location header points.
            raise AvePointConfigError(
                f"{what}: answered with a redirect (HTTP {response.status_code}), which is not followed; "
                "set the connection to the URL the service answers on",
                http_status=response.status_code,
                request_id=_request_id(response),
            )
        return response

    def _call(
        self,
        call: _Call,
        method: str,
        path: str,
        *,
        ambiguous_on_failure: bool,
        redact: Sequence[str] = (),
        **kwargs: Any,
    ) -> tuple[dict[str, Any], requests.Response]:
        """An authenticated Graph call: one token refresh on 401, then typed errors by status."""
        url = f"{self.settings.graph_url}{path}"
        auth = _BearerToken(self._current_token(call))
        response = self._send(
            call, method, url, auth=auth, ambiguous_on_failure=ambiguous_on_failure, **kwargs
        )
        if response.status_code == 401:
            # AvePoint refused the token (expired early, revoked): renew it once and resend.
            # A 401 means the request was not processed, so resending a POST is safe.
            self.log.info("AvePoint answered 401 to %s %s; renewing the token once", method, path)
            auth = _BearerToken(self._current_token(call, force_refresh=True))
            response = self._send(
                call, method, url, auth=auth, ambiguous_on_failure=ambiguous_on_failure, **kwargs
            )
        what = f"AvePoint {method} {path}"
        try:
            _raise_for_status(
                response, what, self.settings.scope, ambiguous_on_failure, redact, token_renewed=True
            )
            return self._json_body(response, method, path, ambiguous=ambiguous_on_failure), response
        except ValueError as exc:
            # Unforeseen: the request was answered, so a POST may have been acted on.
            raise AvePointMalformedResponseError(
                f"{what}: {type(exc).__name__} while reading the reply",
                ambiguous=ambiguous_on_failure,
                http_status=response.status_code,
                request_id=_request_id(response),
            ) from None

    @staticmethod
    def _json_body(response: requests.Response, method: str, path: str, *, ambiguous: bool) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            content_type = response.headers.get("Content-Type", "no content type")
            raise AvePointMalformedResponseError(
                f"AvePoint {method} {path}: the reply is not a JSON object ({content_type}, "
                f"{len(response.content)} bytes)",
                ambiguous=ambiguous,
                http_status=response.status_code,
                request_id=_request_id(response),
            )
        return body

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        self.log.warning(
            "%s; retry %d of %d in %.1f s",
            error,
            retry_state.attempt_number,
            self.retry_policy.max_attempts - 1,
            retry_state.upcoming_sleep,
        )

    def _retrying(self) -> tenacity.Retrying:
        return self.retry_policy.retrying(before_sleep=self._log_retry)

    # -- customer endpoints -----------------------------------------------------------------------

    def onboard_customer(self, customer: Customer, *, check_existing_first: bool = False) -> OnboardResponse:
        """Onboard one customer (``POST /partner/external/v3/general/customers``).

        Retries per the policy. Before any re-send after an ambiguous failure — and
        before the first send when ``check_existing_first`` is set, for a customer an
        earlier attempt may already have created — the customer is looked up by its
        account in the list endpoint; when found it is not POSTed again.

        A response with ``found_by_lookup`` always has a ``customer_id``. A customer listed
        without an id exists but is not settled: it is never POSTed again, and the lookup is
        retried; if the id is still missing when the retries end, the call raises a
        non-ambiguous :class:`~avepoint_provider.errors.AvePointTransientError` (with
        ``may_have_reached`` as it stands), which a caller treats as "try again later".

        A reply that does not settle the customer by itself (status 7 "already exists", or a
        success without an id) is followed by a look-up in the same call: ``listed`` says
        whether the partner's list has the account, and ``customer_id`` is then its listed id.

        The call takes at most :meth:`max_call_seconds`: lookups (before a send and after a
        reply) stop after the policy's ``lookup_max_elapsed`` in all, and no request starts once
        ``max_elapsed`` plus that has passed; either raises a non-retried
        :class:`~avepoint_provider.errors.AvePointTimeBudgetError`.

        Every :class:`~avepoint_provider.errors.AvePointError` raised here carries
        ``requests_made`` and ``may_have_reached`` (see that class).
        """
        mask_secret(customer.password)
        body = customer.to_request_body()
        redact = [v for v in body.values() if isinstance(v, str)] + list(customer.tags or ())
        policy = self.retry_policy
        call = _Call(
            may_exist=check_existing_first,
            lookup_left=policy.lookup_max_elapsed,
            deadline=time.monotonic() + policy.max_elapsed + policy.lookup_max_elapsed,
        )
        account = customer.registration_account
        try:
            response = self._retrying()(self._onboard_attempt, call, account, body, redact)
            if response.found_by_lookup or not decide(response.api_status, response.customer_id).needs_lookup:
                return response
            # The reply alone does not settle the customer: look it up within this call's bound.
            self.log.info("Looking the account up in this partner's customer list")
            found = self._retrying()(self._lookup, call, account)
            if found is None:
                return dataclasses.replace(response, listed=False, requests_made=call.requests_made)
            listed_id = found.get("id")
            return dataclasses.replace(
                response,
                listed=True,
                customer_id=str(listed_id) if listed_id else None,
                requests_made=call.requests_made,
            )
        except AvePointError as exc:
            error = exc
        except ValueError as exc:
            # Unforeseen (a reply of the POST is handled in _call): typed, never a bare ValueError.
            error = AvePointMalformedResponseError(
                f"AvePoint POST {ONBOARD_PATH}: {type(exc).__name__} while handling AvePoint's replies"
            )
        error.requests_made = call.requests_made
        error.may_have_reached = call.may_have_reached
        raise error

    def _onboard_attempt(
        self, call: _Call, account: str, body: dict[str, Any], redact: Sequence[str]
    ) -> OnboardResponse:
        """One attempt: the lookup when the customer may exist, else one POST."""
        if call.may_exist:
            found = self._lookup(call, account)
            if found is not None:
                if found.get("id") in (None, ""):
                    # It exists, so it must not be POSTed again, but it cannot be recorded as
                    # onboarded without its id: retried (in this call, then by the caller).
                    raise AvePointTransientError(
                        f"AvePoint POST {LIST_PATH}: the account is listed without an id yet; "
                        "not sent again, to be looked up later"
                    )
                return OnboardResponse(
                    api_status=None,
                    customer_id=str(found["id"]),
                    http_status=None,
                    request_id=None,
                    found_by_lookup=True,
                    requests_made=call.requests_made,
                )
        try:
            data, response = self._call(
                call, "POST", ONBOARD_PATH, json=body, ambiguous_on_failure=True, redact=redact
            )
        except AvePointTransientError as exc:
            if exc.ambiguous:
                call.may_exist = call.may_have_reached = True
            raise
        call.may_have_reached = True
        status = data.get("status")
        customer_id = data.get("id")
        return OnboardResponse(
            api_status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            customer_id=str(customer_id) if customer_id else None,
            http_status=response.status_code,
            request_id=_request_id(response),
            found_by_lookup=False,
            requests_made=call.requests_made,
        )

    def _lookup(self, call: _Call, account: str) -> dict[str, Any] | None:
        """The listed customer with ``account``, one request per page (the caller retries), within
        the time this call has left for lookups; past it, a :class:`AvePointTimeBudgetError`."""
        started = time.monotonic()
        until = started + call.lookup_left

        def fetch_page(page_index: int, page_size: int, body: dict[str, Any]) -> Page:
            if time.monotonic() >= until:
                raise AvePointTimeBudgetError(
                    f"AvePoint POST {LIST_PATH}: the look-up did not finish within its "
                    f"{self.retry_policy.lookup_max_elapsed:g} s; not sent again, to be looked up later"
                )
            return self._list_page_once(call, page_index, page_size, body)

        try:
            return self._find(account, fetch_page)
        finally:
            call.lookup_left -= time.monotonic() - started

    def list_customers(
        self, *, page_size: int = MAX_PAGE_SIZE, customer_ids: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the partner's customers, fetching pages of at most 100 lazily (each page retried)."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        return self._customers(partial(self._list_page, _Call()), page_size, customer_ids)

    def find_customer_by_account(self, account: str) -> dict[str, Any] | None:
        """The partner's first customer whose ``ownerEmail`` is ``account``, or None.

        Compared as :func:`~avepoint_provider.accounts.account_key` does. The API has no filter
        by e-mail, so this pages through the list, within the policy's ``lookup_max_elapsed``
        (past it, an :class:`~avepoint_provider.errors.AvePointTimeBudgetError`). The customer
        is returned as listed, possibly without an ``id`` (the list does not promise one); a
        caller must not take that as onboarded-with-id.
        """
        return self._retrying()(
            self._lookup, _Call(lookup_left=self.retry_policy.lookup_max_elapsed), account
        )

    def _find(self, account: str, fetch_page: PageFetcher) -> dict[str, Any] | None:
        wanted = account_key(account)
        for customer in self._customers(fetch_page, MAX_PAGE_SIZE, None):
            if account_key(str(customer.get("ownerEmail") or "")) == wanted:
                return customer
        return None

    def _customers(
        self, fetch_page: PageFetcher, page_size: int, customer_ids: Sequence[str] | None
    ) -> Iterator[dict[str, Any]]:
        """The listed customers, each once, page by page until a short page or the pages that
        hold the ``totalCount``; a list that goes past :attr:`max_list_pages`, or a page that
        brings nobody new (a server ignoring ``pageIndex``), raises :class:`AvePointListingError`."""
        body = {"customerIds": list(customer_ids)} if customer_ids else {}
        seen: set[str] = set()
        for page_index in itertools.count(1):
            if page_index > self.max_list_pages:
                raise AvePointListingError(
                    f"AvePoint POST {LIST_PATH}: the customer list did not end within "
                    f"{self.max_list_pages} pages of {page_size}; not paged further"
                )
            page = fetch_page(page_index, page_size, body)
            items = page.get("data")
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise AvePointMalformedResponseError(
                    f"AvePoint POST {LIST_PATH}: the reply has no 'data' list of customers"
                )
            new = []
            for item in items:
                identity = _listing_identity(item)
                if identity not in seen:
                    seen.add(identity)
                    new.append(item)
            if items and not new:
                raise AvePointListingError(
                    f"AvePoint POST {LIST_PATH}: page {page_index} repeats customers already listed; "
                    "the list does not page as documented"
                )
            yield from new
            total = (page.get("metadata") or {}).get("totalCount")
            counted = isinstance(total, int) and not isinstance(total, bool)
            if len(items) < page_size or (counted and page_index * page_size >= total):
                return

    def _list_page(self, call: _Call, page_index: int, page_size: int, body: dict[str, Any]) -> Page:
        """One page of the customer list, retried per the policy."""
        return self._retrying()(self._list_page_once, call, page_index, page_size, body)

    def _list_page_once(self, call: _Call, page_index: int, page_size: int, body: dict[str, Any]) -> Page:
        """One page, one request: for callers that already run inside a retry loop."""
        data, _ = self._call(
            call,
            "POST",
            LIST_PATH,
            params={"pageIndex": page_index, "pageSize": page_size},
            json=body,
            ambiguous_on_failure=False,
        )
        return data

    def test_connection(self) -> tuple[bool, str]:
        """Get a token and list one customer: proves URL, credentials and scope.

        Airflow runs this in its API server with the stored secret and the tester's form, so it
        first refuses when the credentials could reach someone the tester chose (see
        :func:`_untrusted_destination`); only then is a ``private_key_path`` read; and each of
        the two requests waits at most 10 s, without retries.
        """
        try:
            problem = _untrusted_destination(self.settings)
            if problem:
                return False, f"Test refused: {problem}"
            call = _Call(timeout=min(self.timeout, TEST_CONNECTION_TIMEOUT))
            self._current_token(call, force_refresh=True)
            page = self._list_page_once(call, 1, 1, {})
        except AvePointError as exc:
            return False, str(exc)
        total = (page.get("metadata") or {}).get("totalCount")
        return True, (
            f"Connected to {self.settings.graph_url} with {self.settings.auth_method} auth; "
            f"{total if total is not None else 'an unknown number of'} customers visible"
        )


def _untrusted_destination(settings: AvePointSettings) -> str | None:
    """Why Test Connection must not send this connection's credentials, or None when it may.

    Airflow's API server tests a connection with the *stored* password (and masked extras)
    whenever the form keeps the stored host and port; everything else in the form, the extras
    included, is the tester's. So the stored secret, or an assertion signed with the stored key,
    may only go where the tester cannot point it: AvePoint's documented identity endpoints, or
    the origin (scheme, host, port) of the Graph URL, which is the stored host (or, empty, an
    AvePoint URL). Origins are compared as requests sends the request (urllib3's parser), and a
    URL that parsers could read differently (a backslash, user info, whitespace, a non-ASCII
    character) is refused outright. No tester-chosen proxy may read the credentials in transit:
    with ``proxies`` set, both URLs must be https with certificate checks on. Onboarding itself
    is not bound by this: a saved connection is trusted as saved.
    """
    for label, url in (("token URL", settings.token_url), ("Graph URL", settings.graph_url)):
        if not _plain_url(url):
            return (
                f"the {label} must be a plain URL (ASCII, no whitespace, backslash or user info), "
                "as every URL parser reads it alike."
            )
    documented = {env.token_url for env in ENVIRONMENTS.values()}
    token_origin = _origin(settings.token_url)
    if settings.token_url.rstrip("/") not in documented and token_origin != _origin(settings.graph_url):
        return (
            f"the token URL (host {token_origin[1]}) is neither AvePoint's documented identity "
            "service nor on the Graph URL's host, and Airflow tests with the saved secret. Use a "
            "documented token URL, or test by running a task."
        )
    cleartext = [url for url in (settings.token_url, settings.graph_url) if _origin(url)[0] != "https"]
    if settings.proxies and (cleartext or settings.verify is False):
        return (
            "with 'proxies' set, the token and Graph URLs must be https with 'verify' on, or the "
            "proxy could read the saved secret."
        )
    return None


def _plain_url(url: str) -> bool:
    """True for a URL of printable ASCII without whitespace, backslash or user info."""
    if not all(char.isascii() and char.isprintable() and not char.isspace() and char != "\\" for char in url):
        return False
    return "@" not in urlsplit(url).netloc


def _origin(url: str) -> tuple[str, str | None, int | None]:
    """Scheme, host and port (defaulted) of ``url`` as requests sends a request to it: prepared
    by requests, then split by urllib3, whose reading decides where the request goes."""
    prepared = requests.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except (requests.RequestException, ValueError):
        return "", None, None
    parts = parse_url(prepared.url or "")
    scheme = (parts.scheme or "").lower()
    return scheme, (parts.host or "").lower() or None, parts.port or DEFAULT_PORTS.get(scheme)


def _listing_identity(customer: dict[str, Any]) -> str:
    """What makes a listed customer the same one on another page: its id, or all it shows."""
    customer_id = customer.get("id")
    if customer_id not in (None, ""):
        return f"id:{customer_id}"
    return "item:" + json.dumps(customer, sort_keys=True, default=str)


def _mask_private_key(key: str | None) -> None:
    """Register a PEM key, and each of its lines, with Airflow's secrets masker in one call: in a
    task each call is a round trip to the supervisor, and an RSA-2048 key has 26 lines (a call per
    line cost a deployment about 9% more CPU per run in tasks using certificate auth).
    """
    if key:
        mask_secret([key, *(line for line in key.splitlines() if line and not line.startswith("-----"))])


class _BearerToken(AuthBase):
    """The Graph call's bearer token, as requests auth: set last, so a ``~/.netrc`` entry for the
    host can never replace it with basic auth (and requests skips the netrc lookup it would do)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def _credentials_in_form(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """The token request's auth: none beyond its form. Without an explicit auth requests would add
    basic auth from a ``~/.netrc`` entry for the identity host, a second client authentication
    that OAuth 2.0 forbids."""
    return request


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def _raise_for_status(
    response: requests.Response,
    what: str,
    scope: str,
    ambiguous_on_failure: bool = False,
    redact: Sequence[str] = (),
    *,
    token_renewed: bool = False,
) -> None:
    """A typed error for a status of 400 or more: retry decisions look at its class, not a text."""
    status = response.status_code
    if status < 400:
        return
    meta = {"http_status": status, "request_id": _request_id(response)}
    if status == 401:
        renewed = " even after renewing it" if token_renewed else ""
        raise AvePointAuthError(f"{what}: the bearer token was refused{renewed}", **meta)
    if status == 403:
        raise AvePointAuthError(
            f"{what}: access refused; does the app have scope {scope!r} and admin consent?",
            **meta,
        )
    if status == 429:
        raise AvePointRateLimitedError(
            f"{what}: rate limit exceeded", retry_after=_retry_after(response), **meta
        )
    if status in RETRYABLE_HTTP_STATUSES:
        raise AvePointTransientError(f"{what}: server error", ambiguous=ambiguous_on_failure, **meta)
    if status == 400:
        field, reason = _bad_request_details(response, redact)
        raise AvePointBadRequestError(
            f"{what}: invalid parameters" + (f" ({reason})" if reason else ""), field=field, **meta
        )
    if status == 404:
        raise AvePointNotFoundError(f"{what}: not found; check the connection's Graph URL", **meta)
    if status < 500:
        raise AvePointClientError(f"{what}: request refused", **meta)
    raise AvePointError(f"{what}: unexpected server error", **meta)


def _request_id(response: requests.Response) -> str | None:
    return response.headers.get("request-id") or response.headers.get("x-request-id")


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the connection was never established, so the request cannot have been sent."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    reason = getattr(exc.args[0], "reason", exc.args[0]) if exc.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError)


def _retry_after(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None when it is not usable.

    Never raises: NaN, a negative number or an unparsable date count as absent (the backoff
    applies); infinity and huge values come back as they are, for the policy to cap.
    """
    value = (response.headers.get("Retry-After") or "").strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:  # "-0000": UTC by RFC 5322
                when = when.replace(tzinfo=datetime.UTC)
            return max(when.timestamp() - time.time(), 0.0)
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    return seconds if seconds >= 0 else None  # NaN fails the comparison too


def _oauth_error(response: requests.Response) -> str:
    """The OAuth error code (``invalid_client``, ``invalid_scope``...) when the body has one."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, str) and error.replace("_", "").isalnum() and len(error) <= 64:
        return error
    return "no reason given"


def _bad_request_details(response: requests.Response, redact: Sequence[str]) -> tuple[str | None, str]:
    """The offending field and a short reason from a 400 body, with request values redacted."""
    try:
        body = response.json()
    except ValueError:
        return None, ""
    if not isinstance(body, Mapping):
        return None, ""
    field = body.get("field") or body.get("fieldName") or body.get("parameter")
    errors = body.get("errors")
    if not field and isinstance(errors, Mapping) and errors:
        field = next(iter(errors))
    message = body.get("message") or body.get("error_description") or body.get("title") or ""
    text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False, default=str)
    # Redact the whole text first: a cut first would leave the start of a value that straddles it.
    reason = _redacted(text, redact)[:300]
    field = str(field)[:64] if field else None
    if field and (not field.replace("_", "").replace(".", "").isalnum() or field in redact):
        field = None
    return field, (f"{field}: {reason}" if field and reason else field or reason)


def _redacted(text: str, values: Sequence[str]) -> str:
    """``text`` with each request value (of 3+ characters) replaced by ``[redacted]``.

    AvePoint may echo a request value in many shapes: as sent, JSON-escaped (a backslash or
    quote in a value appears escaped), in another letter case, HTML-escaped (in any entity
    style: the text is searched again once unescaped), or cut short (any first 6 or more of
    its characters).
    """
    forms = {form for value in values if len(value) >= 3 for form in _echo_forms(value)}
    text = _redact_forms(text, forms)
    unescaped = html.unescape(text)
    return text if unescaped == text else _redact_forms(unescaped, forms)


def _echo_forms(value: str) -> Iterator[str]:
    for form in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
        # Compared without regard to case below; these catch case mappings that change length (ß, SS).
        yield from (form, form.upper(), form.lower())


def _redact_forms(text: str, forms: set[str]) -> str:
    spans = []
    for form in forms:
        head = form[:REDACT_PREFIX_MIN]
        for match in re.finditer(re.escape(head), text, re.IGNORECASE):
            end = match.end()
            # Extend the match over as much more of the form as the text echoes.
            for char in form[len(head) :]:
                if end < len(text) and _same_letter(text[end], char):
                    end += 1
                else:
                    break
            spans.append((match.start(), end))
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, last = [], 0
    for start, end in merged:
        pieces += [text[last:start], "[redacted]"]
        last = end
    return "".join(pieces) + text[last:]


def _same_letter(one: str, other: str) -> bool:
    return one == other or one.lower() == other.lower() or one.upper() == other.upper()
