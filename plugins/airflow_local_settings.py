"""Airflow local settings: pre-import what every onboarding task needs, once per worker.

Airflow imports this module (the plugins folder is on ``sys.path``) in every component when
``airflow`` itself is imported. LocalExecutor and Celery workers fork each task process from a
long-lived worker process, and a forked process inherits the modules already imported, so a
module imported here is not imported again by each of the hundreds of mapped onboarding tasks.
The HTTP client (with ``aiohttp``, which providers-http's hook module imports for its async
hook), the PostgreSQL drivers and common-sql's helpers are the bulk of a task's own start-up CPU
(``make bench``, scenario 4). Only third-party modules: importing Airflow's own modules here would
run while Airflow is still initialising. A missing optional driver is skipped.
"""

from __future__ import annotations

import contextlib
import importlib

PRELOADED_MODULES = (
    "requests",
    "requests_toolbelt.adapters.socket_options",
    "aiohttp",
    "tenacity",
    "jwt",
    "psycopg",
    "psycopg2",
    "psycopg2.extras",
    "sqlparse",
    "more_itertools",
    "deprecated",
    "multiprocessing",
)

for _name in PRELOADED_MODULES:
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)
