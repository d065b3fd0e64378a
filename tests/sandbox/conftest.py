"""Fixtures for the AvePoint sandbox tests: servers started in-process, control clients, RSA keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from avepoint_sandbox import SandboxConfig, SandboxControl, SandboxServer
from tests.sandbox.helpers import Api


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes with ``SandboxConfig`` keyword arguments; all are stopped at teardown."""
    servers: list[SandboxServer] = []

    def start(**config: Any) -> SandboxServer:
        server = SandboxServer(SandboxConfig(**config)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    return sandbox_factory(random_seed=7)


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[SandboxControl]:
    with sandbox.control() as client:
        yield client


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[Api]:
    client = Api(sandbox)
    yield client
    client.close()
