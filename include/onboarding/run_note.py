"""Put the run summary into the DAG run's note, through Airflow's REST API.

Airflow 3 tasks have no database access and the Task SDK cannot edit a note, so
the finish task calls the public API (``PATCH /api/v2/dags/{dag}/dagRuns/{run}``)
with the ``airflow_api`` connection: ``host`` = the API server's base URL (its scheme, or
``schema``, or the connection type ``https`` decides http or https; see :func:`base_url`), and
``login``/``password`` = an Airflow user (empty when the simple auth manager runs
with all users as admins). Without that connection the summary stays in the task
log only. A note that cannot be written never fails the run.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlsplit

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10


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
        url = f"{url}:{conn.port}"
    return url


def publish_note(dag_id: str, run_id: str, note: str, conn_id: str) -> bool:
    """Set the note of ``dag_id``/``run_id``; return whether it was written."""
    import requests
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.info("No %r connection: the run summary is in this log only, not in the run's note", conn_id)
        return False
    base = base_url(conn)
    with requests.Session() as session:
        try:
            if conn.login:
                auth = session.post(
                    f"{base}/auth/token",
                    json={"username": conn.login, "password": conn.password or ""},
                    timeout=TIMEOUT_SECONDS,
                )
            else:
                auth = session.get(f"{base}/auth/token", timeout=TIMEOUT_SECONDS)
            auth.raise_for_status()
            token = auth.json()["access_token"]
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
            log.warning(
                "Could not write the run's note through %s (%s%s); the summary is in this log",
                base,
                type(exc).__name__,
                f", HTTP {status}" if status else "",
            )
            return False
    log.info("Wrote the summary into the note of run %s", run_id)
    return True
