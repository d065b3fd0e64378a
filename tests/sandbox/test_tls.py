"""The sandbox serving HTTPS (``--tls-cert``/``--tls-key``): TLS 1.2+, its own certificate, the same API."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from avepoint_sandbox import SandboxControl, SandboxServer
from avepoint_sandbox.__main__ import build_parser, config_from_args
from tests.sandbox.helpers import BOTH_SCOPES, self_signed_certificate


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def test_tls_flags_map_onto_the_config(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    config = config_from_args(build_parser().parse_args([f"--tls-cert={cert}", f"--tls-key={key}"]))
    assert (config.tls_cert, config.tls_key) == (cert, key)


def test_a_certificate_needs_its_key(certificate: tuple[Path, Path]) -> None:
    with pytest.raises(ValueError, match="go together"):
        config_from_args(build_parser().parse_args([f"--tls-cert={certificate[0]}"]))


def test_serves_https_with_its_certificate(
    sandbox_factory: Callable[..., SandboxServer], certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server = sandbox_factory(tls_cert=cert, tls_key=key)
    assert server.url.startswith("https://127.0.0.1:")
    with server.control() as control:  # trusts the sandbox's own certificate
        assert control.health()
    response = requests.post(
        server.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
            "scope": BOTH_SCOPES,
        },  # fmt: skip
        verify=str(cert),
        timeout=5,
    )
    assert response.status_code == 200 and response.json()["access_token"]
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.url + "/_sandbox/health", timeout=5)  # the system CAs do not know it


def test_refuses_tls_older_than_1_2(
    sandbox_factory: Callable[..., SandboxServer], certificate: tuple[Path, Path]
) -> None:
    server = sandbox_factory(tls_cert=certificate[0], tls_key=certificate[1])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(certificate[0])
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.minimum_version = ssl.TLSVersion.TLSv1
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        pytest.raises(ssl.SSLError),
        context.wrap_socket(raw, server_hostname="127.0.0.1"),
    ):
        pass


@pytest.mark.integration
def test_the_cli_serves_https(certificate: tuple[Path, Path]) -> None:
    from tests.sandbox.test_cli import _start

    cert, key = certificate
    process, url = _start("--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert url.startswith("https://127.0.0.1:")
        control = SandboxControl(url, verify=str(cert))
        control.wait_until_up(timeout=10)
        assert control.health() == {"ok": True}
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0
