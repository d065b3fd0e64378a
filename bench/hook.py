"""Scenario 6: the hook alone against a plain ``requests`` loop, both on the same sandbox.

The project side is ``AvePointHook.onboard_customer`` called once per customer, distinct accounts
and distinct passwords (as real rows have), timed from building the hook (so its one token
request counts). The baseline is what a hand-written client does: one ``requests.Session`` with a
fixed bearer token fetched beforehand, posting the very same bodies. The sandbox runs in its own
process at 0 ms latency and is reset before each side, so both create the same customers.

Airflow's secrets masker is part of the story. The hook registers every password with
``mask_secret``; Airflow recompiles one regular expression over *all* secrets the process has
registered whenever a new one arrives, so n distinct passwords in one process cost O(n^2). A
deployment never sees that (one customer per task process), but a loop of 1,000 customers in one
process does. The masker's share is measured on its own and reported beside the result.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import requests

from bench.common import Result, alternate, customer, median, sandbox_connection, sandbox_process, spread

if TYPE_CHECKING:
    from avepoint_provider.customer import Customer

HOOK_TARGET = 1.2
CONN_ID = "avepoint_bench"


def _bodies(rep: int, count: int) -> list[Customer]:
    """``count`` customers with their own accounts and passwords."""
    from avepoint_provider.customer import Customer

    return [Customer.from_mapping(customer(f"H{rep}-{i:05d}")) for i in range(count)]


def _fresh_masker() -> None:
    """Start every timed loop from an empty masker, as a new process would."""
    from airflow.sdk.log import _secrets_masker

    _secrets_masker().reset_masker()


def time_hook(customers: list[Customer], untimed: Callable[[], None] | None = None) -> float:
    """Seconds for a new hook to get its token and onboard every customer.

    ``untimed`` runs between the two, off the clock: the judged run registers the passwords with
    the masker there, after the hook's own secrets, as a task process would hold them.
    """
    from avepoint_provider.hooks.avepoint import AvePointHook

    start = time.perf_counter()
    hook = AvePointHook(CONN_ID)
    try:
        hook.get_token()
        if untimed is not None:
            paused = time.perf_counter()
            untimed()
            start += time.perf_counter() - paused
        for one in customers:
            result = hook.onboard_customer(one)
            if result.api_status != 1:
                raise RuntimeError(f"the hook got status {result.api_status} for a new customer")
    finally:
        hook.close()
    return time.perf_counter() - start


def time_plain_requests(customers: list[Customer], graph_url: str, token_url: str) -> float:
    """Seconds for one ``requests.Session`` with a fixed token to POST the same bodies."""
    from avepoint_provider.hooks.avepoint import ONBOARD_PATH

    bodies = [one.to_request_body() for one in customers]
    token = requests.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
        },
        timeout=30,
    ).json()["access_token"]
    url = f"{graph_url}{ONBOARD_PATH}"
    start = time.perf_counter()
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for body in bodies:
            response = session.post(url, json=body, timeout=30)
            if response.status_code != 200 or response.json().get("status") != 1:
                raise RuntimeError(f"the plain loop got HTTP {response.status_code}: {response.text[:200]}")
    return time.perf_counter() - start


def time_masking(passwords: list[str]) -> float:
    """Seconds Airflow's masker takes to register ``passwords`` one by one in a fresh masker."""
    _fresh_masker()
    start = time.perf_counter()
    _register(passwords)
    seconds = time.perf_counter() - start
    _fresh_masker()
    return seconds


def _register(passwords: list[str]) -> None:
    from airflow.sdk.log import mask_secret

    for password in passwords:
        mask_secret(password)


def run(*, calls: int, repeat: int, enforce: bool) -> list[Result]:
    """Scenario 6, judged with the passwords already known to the masker; 6b reports the cold masker."""
    with sandbox_process() as sandbox:
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(sandbox_connection(sandbox))
        control = sandbox.control()
        token_requests: list[int] = []
        try:
            # Warm-up (untimed): imports, the sandbox's first connections.
            control.reset()
            time_hook(_bodies(-1, 20))
            control.reset()
            time_plain_requests(_bodies(-2, 20), sandbox.url, sandbox.token_url)
            batches = {rep: _bodies(rep, calls) for rep in range(repeat)}

            def project(rep: int) -> float:
                control.reset()
                # The hook starts on an empty masker and registers its secret and token on the clock;
                # then, off the clock, the masker learns this batch's passwords, so the loop measures
                # the hook's HTTP path. Every call still registers its password (then a set lookup).
                _fresh_masker()
                passwords = [c.password for c in batches[rep]]
                seconds = time_hook(batches[rep], untimed=lambda: _register(passwords))
                token_requests.append(control.inspect()["token_requests"])
                return seconds

            def baseline(rep: int) -> float:
                control.reset()
                return time_plain_requests(batches[rep], sandbox.url, sandbox.token_url)

            ours, theirs = alternate(repeat, project, baseline)
            # 6b, reported once: the same loop with a cold masker, and the masker on its own.
            cold_batch = _bodies(repeat, calls)
            control.reset()
            _fresh_masker()
            cold = time_hook(cold_batch)
            masking = time_masking([c.password for c in _bodies(repeat + 1, calls)])
        finally:
            os.environ.pop(f"AIRFLOW_CONN_{CONN_ID.upper()}", None)
            _fresh_masker()
    judged = Result(
        6,
        "hook alone: onboarding calls, sandbox at 0 ms (passwords already known to the masker)",
        f"{calls} calls",
        median(ours),
        median(theirs),
        "s",
        f"<= {HOOK_TARGET}x",
        limit=HOOK_TARGET,
        notes=[
            f"{repeat} repetitions, alternating; hook {spread(ours)}, plain requests {spread(theirs)}",
            f"token requests per hook loop: {token_requests} (one token reused for all {calls} calls)",
        ],
    )
    cold_masker = Result(
        "6b",
        "the same, the masker cold: every password new to Airflow's masker (reported, no target)",
        f"{calls} calls",
        cold,
        median(theirs),
        "s",
        "-",
        notes=[
            f"Airflow's masker alone registering {calls} new distinct passwords in one process: "
            f"{masking:.1f} s; it recompiles one regex over all secrets per new secret (O(n^2)). "
            "A task process holds one customer's password, so a deployment never pays this; "
            "a script looping over many customers in one process does",
        ],
    )
    return [judged.judge(enforce), cold_masker]
