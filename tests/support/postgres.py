"""PostgreSQL for tests: skipped with a reason when absent, required when CI=true."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTGRES_URL = os.environ.get("AVEPOINT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def require_postgres() -> str:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL} (set AVEPOINT_TEST_POSTGRES): {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires PostgreSQL. {reason}")
        pytest.skip(reason)
    return POSTGRES_URL


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Create a database with a unique name; drop it (with its connections) afterwards."""
    import psycopg

    name = f"avepoint_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_connection(url: str) -> dict:
    """Airflow's JSON connection form for a postgresql:// URL."""
    parts = urlsplit(url)
    fields = {
        "conn_type": "postgres",
        "host": parts.hostname,
        "port": parts.port or 5432,
        "login": parts.username,
        "schema": parts.path.lstrip("/"),
    }
    if parts.password:
        fields["password"] = parts.password
    return fields
