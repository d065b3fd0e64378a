"""Put the run summary into the DAG run's note, through Airflow's REST API.

Airflow 3 tasks have no database access and the Task SDK cannot edit a note, so the finish task
calls the public API (``PATCH /api/v2/dags/{dag}/dagRuns/{run}``) with the ``airflow_api``
connection. ``host`` is the API server's base URL, path included (Astro:
``https://<org>.astronomer.run/<deployment>``); its scheme, or ``schema``, or the connection type
``https`` decides http or https (see :func:`base_url`). How it authenticates, first match wins:

- extra ``token``, or a ``password`` without a ``login``: an API token sent as a bearer token
  (Astro's Deployment or Workspace API tokens; any token the API server accepts);
- ``login`` and ``password``: an Airflow user, exchanged for a token at ``/auth/token``
  (self-managed Airflow with the simple or FAB auth manager);
- neither: a token from ``GET /auth/token`` (the simple auth manager with all users as admins).

MWAA and Composer authenticate their REST APIs with cloud IAM, which a connection cannot carry:
there, leave the connection out. Without it, or when the API refuses, the finish task says so
once in its log; the summary stays in that log and in the task's return value (its XCom), both
readable in the UI. A note that cannot be written never fails the run.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlsplit

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10
# An API server answers 5xx while its metadata database is busy (SQLite locked by the scheduler,
# a PostgreSQL failover): setting a note is idempotent, so such an answer is tried again.
RETRIED_STATUSES = (500, 502, 503, 504)
ATTEMPTS = 4
BACKOFF_SECONDS = 0.5  # then 1 s, then 2 s
ELSEWHERE = "the summary is in this finish_run log and in its XCom (return value, key 'note')"


def base_url(conn: Any) -> str:
    """The API server's URL from the connection's fields, read as ``HttpHook`` reads them.

    A scheme in ``host`` wins, then ``schema``, then the connection type: a connection given
    as the URI ``https://...`` has type ``https`` and no schema, and ``HttpHook`` would fall
    back to plain ``http`` there, sending the Airflow user's password in clear text.
    """
    url = (conn.host or "").strip().rstrip("/")
    if "://" not in url:
        scheme = conn.schema or ("https" if conn.conn_type == "https" else "http")
        url = f"{scheme}://{url}"
    if conn.port and urlsplit(url).port is None:
        parts = urlsplit(url)
        url = parts._replace(netloc=f"{parts.netloc}:{conn.port}").geturl()
    return url


def api_token(conn: Any) -> str | None:
    """The connection's own API token (extra ``token``, or a password without a login), if any."""
    token = (conn.extra_dejson or {}).get("token") or (None if conn.login else conn.password)
    return str(token) if token else None


def publish_note(dag_id: str, run_id: str, note: str, conn_id: str) -> bool:
    """Set the note of ``dag_id``/``run_id``; return whether it was written."""
    import requests
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.warning(
            "The run's note was not set: no %r connection gives this task access to Airflow's REST API "
            "(set one with an API token or user to get the note; MWAA and Composer need none); %s",
            conn_id,
            ELSEWHERE,
        )
        return False
    base = base_url(conn)
    token = api_token(conn)
    with requests.Session() as session:
        _retry_server_errors(session)
        try:
            if token is None:
                token = _exchange_for_token(session, base, conn)
            mask_secret(token)
            response = session.patch(
                f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}",
                params={"update_mask": "note"},
                json={"note": note},
                headers={"Authorization": f"Bearer {token}"},
                timeout=TIMEOUT_SECONDS,
            )
            response.raise_for_status()
        except (requests.RequestException, KeyError, ValueError) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            hint = (
                f"; the API server refused the {conn_id!r} connection's token or user: renew or fix it"
                if status in (401, 403)
                else ""
            )
            log.warning(
                "Could not write the run's note through %s (%s%s)%s; %s",
                base,
                type(exc).__name__,
                f", HTTP {status}" if status else "",
                hint,
                ELSEWHERE,
            )
            return False
    log.info("Wrote the summary into the note of run %s", run_id)
    return True


def _exchange_for_token(session: Any, base: str, conn: Any) -> str:
    """A JWT from the API server's ``/auth/token``: for the connection's user, or anonymous."""
    if conn.login:
        auth = session.post(
            f"{base}/auth/token",
            json={"username": conn.login, "password": conn.password or ""},
            timeout=TIMEOUT_SECONDS,
        )
    else:
        auth = session.get(f"{base}/auth/token", timeout=TIMEOUT_SECONDS)
    auth.raise_for_status()
    return auth.json()["access_token"]


def _retry_server_errors(session: Any) -> None:
    """Retry refused connections and 5xx answers (urllib3's Retry), the last answer kept for the log."""
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
        total=ATTEMPTS - 1,
        read=0,  # a request that may have been applied is not sent again on a read error
        status_forcelist=RETRIED_STATUSES,
        allowed_methods=frozenset({"GET", "POST", "PATCH"}),
        backoff_factor=BACKOFF_SECONDS,
        raise_on_status=False,
    )
    for prefix in ("http://", "https://"):
        session.mount(prefix, HTTPAdapter(max_retries=retry))
