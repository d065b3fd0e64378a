"""Airflow hook for the AvePoint Graph API (Elements partner customer endpoints).

Built on HttpHook: the connection's ``host`` is the Graph URL and its extras ``verify``,
``cert`` and ``proxies`` configure the session as they do for any HTTP connection. Where
HttpHook is weaker for this API it is overridden: one ``requests.Session`` and one bearer
token serve the hook for its whole life (HttpHook builds a session per call), no extra ever
becomes a header and the client id/secret never go out as basic auth, and errors are typed
by HTTP status with AvePoint's request-id (HttpHook logs error bodies, which can echo a
request's values). Every request has a timeout; failures are retried per
:class:`~avepoint_provider.retry.RetryPolicy`. Onboarding is not idempotent, so after an
ambiguous failure the hook looks the customer up in the list endpoint before it POSTs again.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import string
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

from avepoint_provider.errors import (
    AvePointAuthError,
    AvePointBadRequestError,
    AvePointClientError,
    AvePointError,
    AvePointMalformedResponseError,
    AvePointNotFoundError,
    AvePointRateLimitedError,
    AvePointTimeBudgetError,
    AvePointTransientError,
)
from avepoint_provider.retry import RetryPolicy
from avepoint_provider.settings import ENVIRONMENTS, AvePointSettings

if TYPE_CHECKING:
    from avepoint_provider.customer import Customer

ONBOARD_PATH = "/partner/external/v3/general/customers"
LIST_PATH = "/partner/external/v3/general/customers/batch"
MAX_PAGE_SIZE = 100
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RETRYABLE_HTTP_STATUSES = frozenset({500, 502, 503, 504})
# AvePoint's documented token life, assumed when a reply gives no usable expires_in.
TOKEN_LIFETIME = 3600.0
# A token is renewed this long before AvePoint says it expires (or at 90% of a shorter life).
TOKEN_RENEWAL_MARGIN = 60.0

Page = dict[str, Any]
PageFetcher = Callable[[int, int, dict[str, Any]], Page]


@dataclass(frozen=True)
class OnboardResponse:
    """What one ``onboard_customer`` call learned. JSON-safe via :meth:`to_dict`."""

    api_status: int | None
    customer_id: str | None
    http_status: int | None
    request_id: str | None
    # True when the customer was found in the list endpoint instead of being POSTed (again).
    found_by_lookup: bool
    # HTTP requests this call made (token, POSTs and lookups), for the event log.
    requests_made: int

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


class AvePointHook(HttpHook):
    """Talks to the AvePoint Graph API with the ``avepoint`` connection ``avepoint_conn_id``.

    :param avepoint_conn_id: the connection (``host`` Graph URL, ``login`` client id,
        ``password`` client secret; extras ``environment``, ``token_url``, ``scope``,
        ``timeout``, ``private_key``/``private_key_path``, ``retry_*``, ``verify``, ``cert``,
        ``proxies``).
    :param retry_policy: overrides the policy read from the connection.
    :param timeout: overrides the per-request timeout (seconds) read from the connection.
    :param kwargs: passed to HttpHook (e.g. ``tcp_keep_alive``, ``adapter``).
    """

    conn_name_attr = "avepoint_conn_id"
    default_conn_name = "avepoint_default"
    conn_type = "avepoint"
    hook_name = "AvePoint Graph API"
    default_headers = {"Accept": "application/json", "User-Agent": "airflow-provider-avepoint"}

    def __init__(
        self,
        avepoint_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
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
        for secret in (settings.client_secret, settings.private_key):
            mask_secret(secret)
        if settings.private_key:
            for line in settings.private_key.splitlines():
                if not line.startswith("-----"):
                    mask_secret(line)
        return settings

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
        """The hook's one session: built by HttpHook from the connection on first use, then reused.

        Per-call ``headers``/``extra_options`` would change a session other calls share, so
        they are refused; the bearer token is added per request.
        """
        if headers or extra_options:
            raise TypeError("AvePointHook shares one session: pass headers and options per request")
        if self._session is None:
            self.settings  # noqa: B018 - a bad connection is an AvePointConfigError before HttpHook reads it
            self._session = super().get_conn()
        return self._session

    @property
    def session(self) -> requests.Session:
        return self.get_conn()

    def _configure_session_from_auth(self, session: requests.Session, connection: Any) -> requests.Session:
        """No basic auth: the client secret goes only to the token endpoint, never to Graph."""
        session.auth = None
        return session

    def _configure_session_from_extra(
        self, session: requests.Session, connection: Any, extra_options: dict[str, Any]
    ) -> requests.Session:
        """``verify``, ``cert`` and ``proxies`` as HttpHook applies them; unlike HttpHook, the other
        extras (token URL, private key...) never become request headers."""
        settings = self.settings
        session.verify = settings.verify
        session.cert = settings.cert
        session.proxies = dict(settings.proxies)
        return session

    @cached_property
    def _transport_overrides(self) -> dict[str, Any]:
        """The connection's own ``verify``/``cert``/``proxies``, passed again with every request as
        HttpHook.run_and_check does: requests lets ``REQUESTS_CA_BUNDLE`` and ``*_PROXY`` override
        a session's settings, but not a request's. Settings left at requests' defaults are not
        passed: the environment applies to them as it would anyway (``make bench``, scenario 6)."""
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
        """HttpHook's status check without its logging of the body (it may echo request values)."""
        self._raise_for_status(
            response, f"AvePoint {response.request.method} {_path(response.url)}", False, ()
        )

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
        if settings.private_key:
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
        self._raise_for_status(response, f"AvePoint POST {_path(settings.token_url)}", False, ())
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
            return jwt.encode(claims, settings.private_key, algorithm="RS256")
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
        try:
            return session.request(method, url, timeout=self.timeout, **self._transport_overrides, **kwargs)
        except requests.ConnectTimeout:
            raise AvePointTransientError(f"{what}: could not connect within {self.timeout:g} s") from None
        except requests.exceptions.SSLError:
            raise AvePointTransientError(
                f"{what}: TLS handshake failed; check the connection's 'verify' (CA bundle) and 'cert'"
            ) from None
        except requests.ReadTimeout:
            raise AvePointTransientError(
                f"{what}: no response within {self.timeout:g} s", ambiguous=ambiguous_on_failure
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
            self._raise_for_status(response, what, ambiguous_on_failure, redact, token_renewed=True)
            return self._json_body(response, method, path, ambiguous=ambiguous_on_failure), response
        except ValueError as exc:
            # Unforeseen: the request was answered, so a POST may have been acted on.
            raise AvePointMalformedResponseError(
                f"{what}: {type(exc).__name__} while reading the reply",
                ambiguous=ambiguous_on_failure,
                http_status=response.status_code,
                request_id=_request_id(response),
            ) from None

    def _raise_for_status(
        self,
        response: requests.Response,
        what: str,
        ambiguous_on_failure: bool,
        redact: Sequence[str],
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
                f"{what}: access refused; does the app have scope {self.settings.scope!r} and admin consent?",
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

        The call takes at most :meth:`max_call_seconds`: lookups stop after the policy's
        ``lookup_max_elapsed`` in all, and no request starts once ``max_elapsed`` plus that has
        passed; either raises a non-retried :class:`~avepoint_provider.errors.AvePointTimeBudgetError`.

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
        try:
            return self._retrying()(self._onboard_attempt, call, customer.registration_account, body, redact)
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

        Compared as :func:`account_key` does. The API has no filter by e-mail, so this pages
        through the whole list. The customer is returned as listed, possibly without an ``id``
        (the list does not promise one); a caller must not take that as onboarded-with-id.
        """
        return self._find(account, partial(self._list_page, _Call()))

    def _find(self, account: str, fetch_page: PageFetcher) -> dict[str, Any] | None:
        wanted = account_key(account)
        for customer in self._customers(fetch_page, MAX_PAGE_SIZE, None):
            if account_key(str(customer.get("ownerEmail") or "")) == wanted:
                return customer
        return None

    @staticmethod
    def _customers(
        fetch_page: PageFetcher, page_size: int, customer_ids: Sequence[str] | None
    ) -> Iterator[dict[str, Any]]:
        body = {"customerIds": list(customer_ids)} if customer_ids else {}
        page_index, seen = 1, 0
        while True:
            page = fetch_page(page_index, page_size, body)
            items = page.get("data")
            if not isinstance(items, list):
                raise AvePointMalformedResponseError(
                    f"AvePoint POST {LIST_PATH}: the reply has no 'data' list"
                )
            yield from items
            seen += len(items)
            total = (page.get("metadata") or {}).get("totalCount")
            if not items or len(items) < page_size or (isinstance(total, int) and seen >= total):
                return
            page_index += 1

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

        Refuses first when the credentials could reach someone the tester chose: see
        :meth:`_untrusted_destination`.
        """
        call = _Call()
        try:
            problem = self._untrusted_destination()
            if problem:
                return False, f"Test refused: {problem}"
            self._current_token(call, force_refresh=True)
            page = self._list_page(call, 1, 1, {})
        except AvePointError as exc:
            return False, str(exc)
        total = (page.get("metadata") or {}).get("totalCount")
        return True, (
            f"Connected to {self.settings.graph_url} with {self.settings.auth_method} auth; "
            f"{total if total is not None else 'an unknown number of'} customers visible"
        )

    def _untrusted_destination(self) -> str | None:
        """Why testing must not send this connection's credentials, or None when it may.

        Airflow's API server tests a connection with the *stored* password (and masked extras)
        whenever the form keeps the stored host and port; everything else in the form, the
        extras included, is the tester's. So the stored secret, or an assertion signed with the
        stored key, may only go where the tester cannot point it: AvePoint's documented identity
        endpoints, or the origin (scheme, host, port) of the Graph URL, which is the stored host
        (or, empty, an AvePoint URL). And no tester-chosen proxy may read them in transit: with
        ``proxies`` set, both URLs must be https with certificate checks on. Onboarding itself is
        not bound by this: a saved connection is trusted as saved.
        """
        settings = self.settings
        documented = {env.token_url for env in ENVIRONMENTS.values()}
        if settings.token_url.rstrip("/") not in documented and _origin(settings.token_url) != _origin(
            settings.graph_url
        ):
            return (
                f"the token URL (host {urlsplit(settings.token_url).hostname}) is neither AvePoint's "
                "documented identity service nor on the Graph URL's host, and Airflow tests with the "
                "saved secret. Use a documented token URL, or test by running a task."
            )
        cleartext = [
            url for url in (settings.token_url, settings.graph_url) if urlsplit(url).scheme != "https"
        ]
        if settings.proxies and (cleartext or settings.verify is False):
            return (
                "with 'proxies' set, the token and Graph URLs must be https with 'verify' on, or the "
                "proxy could read the saved secret."
            )
        return None


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


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


def account_key(account: str) -> str:
    """An e-mail address as compared with AvePoint's list: trimmed, ASCII letters lowered, nothing else.

    AvePoint documents no rule; every case-insensitive comparison it could use treats A-Z and
    a-z alike, and domains are ASCII. Unicode folding (``casefold``: ``straße`` is ``strasse``;
    ``lower``: the Kelvin sign is ``k``) could equate two different accounts, and a false
    match records a customer as onboarded that never was. A missed match is the safe side:
    the POST that follows gets AvePoint's "already exists" instead of a duplicate.
    """
    return account.strip().translate(_ASCII_LOWER)


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def _origin(url: str) -> tuple[str, str | None, int | None]:
    """Scheme, host and port (defaulted) of a URL: where a request to it really goes."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, parts.hostname, parts.port or {"http": 80, "https": 443}.get(scheme)


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
    """``text`` with each request value (of 3+ characters) replaced, raw or JSON-escaped.

    AvePoint may echo the request body as JSON text, where a backslash or quote in a value
    appears escaped, so the escaped forms are searched too, longest first.
    """
    forms = {
        form
        for value in values
        if len(value) >= 3
        for form in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1])
    }
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "[redacted]")
    return text
