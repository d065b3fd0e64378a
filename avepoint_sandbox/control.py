"""A small client for the sandbox's ``/_sandbox`` control and inspection endpoints.

Works the same against an in-process :class:`SandboxServer` and a sandbox run
as a separate process with the CLI.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import requests


class SandboxControlError(RuntimeError):
    """The sandbox refused a control request (e.g. an unknown fault setting)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        where = f"{field}: " if field else ""
        super().__init__(f"sandbox control request failed with HTTP {status}: {where}{message}")
        self.status = status
        self.field = field


class SandboxControl:
    """Steers and inspects a sandbox at ``base_url`` (e.g. ``http://127.0.0.1:8765``)."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, verify: bool | str = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        # A sandbox serving TLS with its own certificate: the path of that certificate. Passed per
        # request: requests lets REQUESTS_CA_BUNDLE override a session-level ``verify``.
        self._verify = verify

    def _call(self, method: str, path: str, payload: Any = None) -> dict[str, Any]:
        response = self._session.request(
            method, f"{self.base_url}/_sandbox{path}", json=payload, timeout=self.timeout, verify=self._verify
        )
        try:
            body = response.json()
        except ValueError:
            body = {"message": "non-JSON answer"}
        if response.status_code != 200:
            raise SandboxControlError(response.status_code, str(body.get("message", body)), body.get("field"))
        return body

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def wait_until_up(self, timeout: float = 10.0) -> None:
        """Poll ``/_sandbox/health`` until it answers; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._session.get(
                    f"{self.base_url}/_sandbox/health", timeout=0.5, verify=self._verify
                ).raise_for_status()
                return
            except requests.RequestException as exc:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"sandbox at {self.base_url} not up after {timeout:g} s") from exc
                time.sleep(0.05)

    def get_faults(self) -> dict[str, Any]:
        return self._call("GET", "/faults")

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Merge ``settings`` (FaultSettings field names) into the current ones; returns the result."""
        return self._call("PUT", "/faults", settings)

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/faults")

    def script(self, account: str, actions: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Queue actions for the next onboarding POSTs of ``account``."""
        return self._call("POST", "/script", {"account": account, "actions": list(actions)})

    def revoke(self, disable_client: bool = False) -> dict[str, Any]:
        return self._call("POST", "/revoke", {"disable_client": disable_client})

    def enable_client(self) -> dict[str, Any]:
        return self._call("POST", "/enable-client")

    def seed(
        self,
        customers: Sequence[dict[str, Any]] = (),
        other_partner_accounts: Sequence[str] = (),
    ) -> dict[str, Any]:
        return self._call(
            "POST",
            "/seed",
            {"customers": list(customers), "other_partner_accounts": list(other_partner_accounts)},
        )

    def reset(self) -> dict[str, Any]:
        return self._call("POST", "/reset")

    def inspect(self) -> dict[str, Any]:
        return self._call("GET", "/inspect")

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SandboxControl:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
