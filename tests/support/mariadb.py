"""MariaDB (or MySQL) for tests: skipped with a reason when absent, required when CI=true."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

MARIADB_URL = os.environ.get("AVEPOINT_TEST_MARIADB", "mysql://root@127.0.0.1:3306")


def _server() -> dict[str, Any]:
    parts = urlsplit(MARIADB_URL)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": parts.username or "root",
        "password": parts.password or "",
    }


def mariadb_sql(database: str | None, statement: str, params: Any = None) -> list[tuple]:
    """Run one statement on the server (in ``database``), autocommitted, as an administrator would."""
    import MySQLdb

    conn = MySQLdb.connect(**_server(), database=database or "", charset="utf8mb4", autocommit=True)
    try:
        cursor = conn.cursor()
        cursor.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        conn.close()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires MariaDB. {reason}")
    pytest.skip(reason)


def require_mariadb() -> str:
    try:
        import MySQLdb
    except ImportError:
        # make install skips requirements-mysql.txt where MariaDB's client headers are missing.
        _unavailable(
            "mysqlclient is not installed (requirements-mysql.txt; it needs libmariadb-dev, pkg-config "
            "and gcc, then make install)"
        )
    try:
        (version,) = mariadb_sql(None, "SELECT VERSION()")[0]
    except MySQLdb.OperationalError as exc:
        _unavailable(f"MariaDB is not reachable at {MARIADB_URL} (set AVEPOINT_TEST_MARIADB): {exc}")
    return str(version)


@contextmanager
def fresh_mariadb_database() -> Iterator[str]:
    """Create a database with a unique name; drop it afterwards."""
    name = f"avepoint_test_{uuid.uuid4().hex[:12]}"
    mariadb_sql(None, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        mariadb_sql(None, f"DROP DATABASE IF EXISTS `{name}`")


def mariadb_connection(database: str, **extra: Any) -> dict[str, Any]:
    """Airflow's JSON connection form (type ``mysql``, the official provider's) for one database."""
    server = _server()
    fields: dict[str, Any] = {
        "conn_type": "mysql",
        "host": server["host"],
        "port": server["port"],
        "login": server["user"],
        "schema": database,
    }
    if server["password"]:
        fields["password"] = server["password"]
    if extra:
        fields["extra"] = extra
    return fields
