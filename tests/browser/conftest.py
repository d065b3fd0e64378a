"""A local Airflow started the way ``make airflow`` does, and Debian's Chromium to drive its UI.

One Airflow for the browser tests: its own AIRFLOW_HOME under ``var/browser-test``, free ports for the API
server, the log servers and the sandbox, every user an admin, the connection Test button on, and a
seeded SQLite warehouse of its own. ``airflow standalone`` runs in its own process group, killed on
teardown even when a test fails. Screenshots go to ``var/browser-artifacts`` (git-ignored); with
``AVEPOINT_UPDATE_SCREENSHOTS=1`` the README's screenshots in ``docs/screenshots`` are rewritten too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.support.deployment import AirflowRestClient, components_healthy, free_port
from tests.support.rows import make_customer

CHROMIUM = Path("/usr/bin/chromium")
# Playwright cannot download its own browser here; Debian's Chromium runs headless with these.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOME = ROOT / "var" / "browser-test"
ARTIFACTS = ROOT / "var" / "browser-artifacts"
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
DAG_ID = "avepoint_customer_onboarding"
REVIEW_DAG_ID = "avepoint_customer_review"
# Beside the demo customers: one that the first real run finds invalid (a lower-case country code),
# whose organization looks like a template. A person corrects it in the review queue.
REVIEW_KEY = "CUST-742"
REVIEW_ORGANIZATION = "{{ 6*7 }} Research"
VIEWPORT = {"width": 1400, "height": 900}


def _require_chromium() -> None:
    """Skip without Chromium or the playwright package, except under CI=true, where the test must run."""
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is not installed (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed"
    if missing is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser test cannot run under CI=true: {missing}")
    pytest.skip(f"browser test skipped: {missing}")


@dataclass
class LocalAirflow(AirflowRestClient):
    """The running Airflow: URLs, its warehouse, and the REST API for waiting and checking."""

    api_url: str
    sandbox_url: str
    home: Path
    warehouse: Any
    env: dict[str, str]

    @property
    def log_hint(self) -> str:
        return f"{self.home}/standalone.log"


def _healthy(api_url: str, standalone) -> bool:
    if standalone.poll() is not None:
        raise RuntimeError(
            f"airflow standalone exited with {standalone.returncode}; see {HOME}/standalone.log"
        )
    return components_healthy(api_url, ("metadatabase", "scheduler", "dag_processor", "triggerer"))


@pytest.fixture(scope="module")
def local_airflow() -> Iterator[LocalAirflow]:
    """``make airflow`` in miniature: sandbox, prepared metadata DB and warehouse (the demo customers
    and :data:`REVIEW_KEY`), ``airflow standalone``.

    Scoped to the browser test module rather than the session, so that Airflow is stopped as soon as
    the browser tests are done instead of taking CPU from every later test of ``make test``.
    """
    _require_chromium()
    from avepoint_sandbox import SandboxControl
    from include.onboarding.warehouse import CustomerWarehouse
    from tools.demo.customers import sandbox_seed
    from tools.local_airflow import (
        airflow_environment,
        local_settings,
        prepare,
        start_sandbox,
        start_standalone,
        stop_process_group,
    )

    shutil.rmtree(HOME, ignore_errors=True)
    (HOME / "airflow").mkdir(parents=True)
    api_port, sandbox_port = free_port(), free_port()
    env = {
        k: v
        for k, v in airflow_environment(api_port, HOME / "airflow").items()
        if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))  # connections come from the metadata DB
    }
    env |= {
        "AIRFLOW__CORE__PARALLELISM": "4",
        # Free ports for the log servers too: a `make airflow` or another test may hold 8793/8794.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        # Runs start only from the UI: no scheduled run takes the rows behind the test's back.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AVEPOINT_ONBOARDING_RETRY_DELAY_SECONDS": "2",
    }
    settings = local_settings(sandbox_port, api_port, warehouse=HOME / "warehouse.db")
    sandbox = standalone = None
    patch = pytest.MonkeyPatch()
    try:
        sandbox = start_sandbox(sandbox_port, HOME / "sandbox-state.json")
        with SandboxControl(f"http://127.0.0.1:{sandbox_port}") as control:
            control.seed(**sandbox_seed())  # one customer already ours, one of another partner
        prepare(settings, env)
        standalone = start_standalone(env, HOME / "standalone.log")
        airflow = LocalAirflow(
            api_url=f"http://127.0.0.1:{api_port}",
            sandbox_url=f"http://127.0.0.1:{sandbox_port}",
            home=HOME,
            warehouse=None,
            env=env,
        )
        airflow.wait_until(lambda: _healthy(airflow.api_url, standalone), 180, "Airflow to become healthy")
        airflow.wait_for_dag(DAG_ID)
        # The test process reads the warehouse directly, as a person would with SQL.
        patch.setenv(
            "AIRFLOW_CONN_CUSTOMER_WAREHOUSE", json.dumps(settings.connections["customer_warehouse"])
        )
        airflow.warehouse = CustomerWarehouse("customer_warehouse")
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        airflow.warehouse.add_customers(
            [
                make_customer(
                    REVIEW_KEY,
                    organization_name=REVIEW_ORGANIZATION,
                    country_code="us",
                    requested_at=hour_ago,
                )
            ]
        )
        yield airflow
    finally:
        patch.undo()
        if standalone is not None:
            stop_process_group(standalone, timeout=20)
        if sandbox is not None:
            stop_process_group(sandbox, timeout=10)


@pytest.fixture(scope="module")
def browser(local_airflow):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture
def page(browser, local_airflow, artifacts, request):
    """A fresh page on the Airflow UI; on failure its screenshot and the Airflow log tail are kept."""
    context = browser.new_context(viewport=VIEWPORT, base_url=local_airflow.api_url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        with contextlib.suppress(Exception):
            page.screenshot(path=artifacts / f"FAILED-{request.node.name}.png", full_page=True)
        log = local_airflow.home / "standalone.log"
        if log.exists():
            (artifacts / f"FAILED-{request.node.name}-airflow.log").write_text(log.read_text()[-200_000:])
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


class Shots:
    """Screenshots of each step, numbered in order; README ones are also written to docs/screenshots."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.update_readme = os.environ.get("AVEPOINT_UPDATE_SCREENSHOTS") == "1"

    def __call__(self, target, name: str, *, readme: str | None = None, full_page: bool = False) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        if hasattr(target, "context"):  # a page
            target.screenshot(path=path, full_page=full_page)
        else:  # an element, e.g. a dialog
            target.screenshot(path=path)
        if readme and self.update_readme:
            README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, README_SCREENSHOTS / readme)
        return path


@pytest.fixture(scope="session")
def shot(artifacts) -> Shots:
    return Shots(artifacts)
