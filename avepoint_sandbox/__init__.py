"""A faithful local sandbox of the AvePoint identity service and Graph customer endpoints.

The real API is unreachable from development and CI; this sandbox implements
its documented behaviour (the project's AvePoint Graph API spec) and
injects the failures a production client must survive. Run it in-process with
:class:`SandboxServer`, or as a process with ``python -m avepoint_sandbox``.
"""

from __future__ import annotations

from avepoint_sandbox.config import FaultSettings, SandboxConfig
from avepoint_sandbox.control import SandboxControl, SandboxControlError
from avepoint_sandbox.server import SandboxServer

__all__ = ["FaultSettings", "SandboxConfig", "SandboxControl", "SandboxControlError", "SandboxServer"]
