"""Command line: ``python -m avepoint_sandbox --host 127.0.0.1 --port 8765 [flags]``.

Runs in the foreground, logs one line per request to stderr (never a body or a
secret), prints ``SANDBOX_URL=<url>`` on stdout once it listens (useful with
``--port 0``), and stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from avepoint_sandbox.config import LOST_RESPONSE_MODES, MALFORMED_MODES, FaultSettings, SandboxConfig
from avepoint_sandbox.reference import DEFAULT_SCOPES
from avepoint_sandbox.server import SandboxServer

_CHOICES = {"lost_response_mode": LOST_RESPONSE_MODES, "malformed_mode": MALFORMED_MODES}


def _fault_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per FaultSettings field, so the CLI can never fall behind the dataclass."""
    group = parser.add_argument_group("fault injection")
    for field in dataclasses.fields(FaultSettings):
        flag = "--" + field.name.replace("_", "-")
        help_text = f"{field.metadata.get('help', '')} (default: {field.default})"
        if field.type == "bool":
            group.add_argument(flag, dest=field.name, action="store_true", help=help_text)
        elif field.name == "apply_to":
            group.add_argument(flag, dest=field.name, default=",".join(field.default), help=help_text)
        elif field.name in _CHOICES:
            group.add_argument(flag, dest=field.name, choices=_CHOICES[field.name], default=field.default)
        else:
            kind = int if field.type == "int" else float
            group.add_argument(flag, dest=field.name, type=kind, default=field.default, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m avepoint_sandbox",
        description="Local sandbox of the AvePoint identity service and Graph customer endpoints.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--client-id", default="sandbox-client")
    parser.add_argument(
        "--client-secret",
        default=os.environ.get("AVEPOINT_SANDBOX_CLIENT_SECRET", "sandbox-secret"),
        help="default: $AVEPOINT_SANDBOX_CLIENT_SECRET or sandbox-secret",
    )
    parser.add_argument("--client-public-key", type=Path, help="PEM public key or X.509 certificate file")
    parser.add_argument("--scopes", default=" ".join(DEFAULT_SCOPES), help="scopes the client may request")
    parser.add_argument("--token-lifetime", type=float, default=3600.0, help="seconds")
    parser.add_argument("--partner-account", default="partner@sandbox.example")
    parser.add_argument("--public-url", help="external base URL, also accepted as assertion audience")
    parser.add_argument(
        "--list-accepts-readwrite",
        action="store_true",
        help="let a readwrite.all token list customers (the docs name read.all)",
    )
    parser.add_argument("--require-scope", action="store_true", help="refuse token requests without scope")
    parser.add_argument(
        "--case-insensitive-fields", action="store_true", help="bind onboarding fields in any letter case"
    )
    parser.add_argument("--job-status", default="Succeed", help="jobStatus of onboarded customers")
    parser.add_argument("--random-seed", type=int, help="seed of the fault dice")
    parser.add_argument("--seed", type=Path, help="JSON file shaped like the POST /_sandbox/seed body")
    parser.add_argument("--state-file", type=Path, help="keep customers in this JSON file across restarts")
    parser.add_argument(
        "--tls-cert", type=Path, help="serve HTTPS with this PEM certificate (needs --tls-key)"
    )
    parser.add_argument("--tls-key", type=Path, help="the PEM private key of --tls-cert")
    _fault_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The SandboxConfig the parsed flags describe; ValueError on a bad value."""
    fault_values: dict[str, Any] = {f.name: getattr(args, f.name) for f in dataclasses.fields(FaultSettings)}
    faults = FaultSettings().merged(fault_values)
    return SandboxConfig(
        host=args.host,
        port=args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        client_public_key_pem=args.client_public_key.read_text() if args.client_public_key else None,
        allowed_scopes=tuple(args.scopes.split()),
        token_lifetime=args.token_lifetime,
        partner_account=args.partner_account,
        public_url=args.public_url,
        list_requires_read_scope=not args.list_accepts_readwrite,
        require_scope=args.require_scope,
        case_insensitive_fields=args.case_insensitive_fields,
        job_status=args.job_status,
        random_seed=args.random_seed,
        seed=json.loads(args.seed.read_text(encoding="utf-8")) if args.seed else None,
        state_file=args.state_file,
        faults=faults,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = config_from_args(args)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def _request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    server = SandboxServer(config).start()
    print(f"SANDBOX_URL={server.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
