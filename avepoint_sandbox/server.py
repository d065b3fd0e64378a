"""The HTTP front of the sandbox: routing, bearer auth, fault execution, and :class:`SandboxServer`.

Stdlib ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive, so clients
exercise connection reuse, and a dropped or hung connection looks to them
exactly like one dropped by a real proxy. With ``tls_cert``/``tls_key`` it speaks
HTTPS (TLS 1.2+, as AvePoint), so clients' certificate checks can be tested.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from avepoint_sandbox import graph
from avepoint_sandbox.admin import handle_control
from avepoint_sandbox.config import SandboxConfig
from avepoint_sandbox.control import SandboxControl
from avepoint_sandbox.faults import FaultAction
from avepoint_sandbox.identity import IdentityService
from avepoint_sandbox.reference import (
    CONTROL_PREFIX,
    LIST_PATH,
    ONBOARD_PATH,
    SCOPE_READ,
    SCOPE_READWRITE,
    TOKEN_PATH,
)
from avepoint_sandbox.replies import JSON_TYPE, Reply, error_reply, json_reply
from avepoint_sandbox.state import SandboxState
from avepoint_sandbox.validation import ValidationError, account_of, parse_json

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
_REJECT_ERRORS = {
    429: ("too_many_requests", "rate limit exceeded"),
    500: ("internal_server_error", "an unexpected error occurred"),
    502: ("bad_gateway", "the upstream service failed"),
    503: ("service_unavailable", "the service is under maintenance or overloaded"),
    504: ("gateway_timeout", "the upstream service did not answer in time"),
}
_HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>502 Bad Gateway</h1><p>The proxy server received an invalid response "
    b"from an upstream server.</p></body></html>\n"
)


class _HTTPServer(ThreadingHTTPServer):
    """Knows the sandbox, and every open connection so :meth:`SandboxServer.stop` can cut them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection the client reset is routine here (timeouts, dropped answers): no traceback."""
        log.debug("Connection from %s ended abruptly", client_address, exc_info=True)

    def cut_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            _shutdown(connection)


class _HTTPServerV6(_HTTPServer):
    address_family = socket.AF_INET6


def _shutdown(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY the second waits for a delayed ACK.
    disable_nagle_algorithm = True
    server_version = "AvePointSandbox/1.0"
    sys_version = ""
    server: _HTTPServer

    # -- plumbing ---------------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: :meth:`_dispatch` logs one line per request itself."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        log.debug("%s " + format, self.address_string(), *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unknown method) as JSON with a request-id."""
        self.close_connection = True
        self._request_id = str(uuid.uuid4())
        self._write(error_reply(code, "invalid_request" if code < 500 else "server_error", message or ""))

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def _dispatch(self) -> None:
        self._request_id = str(uuid.uuid4())
        started = time.perf_counter()
        split = urlsplit(self.path)
        reply: Reply | None
        try:
            body = self._read_body()
            reply = body if isinstance(body, Reply) else self._route(split.path, parse_qs(split.query), body)
        except Exception:
            log.exception("Unhandled error answering %s %s", self.command, split.path)
            self.close_connection = True
            reply = error_reply(500, "internal_server_error", "the sandbox failed unexpectedly")
        status = "dropped" if reply is None else str(reply.status)
        if reply is None:
            self._drop()
        else:
            try:
                self._write(reply)
            except OSError:  # the client gave up (its timeout) before the answer was ready
                self.close_connection = True
                status += " (client gone)"
        note = f" {reply.note}" if reply is not None and reply.note else ""
        elapsed = (time.perf_counter() - started) * 1000
        log.info(
            "%s %s -> %s%s %.1fms request-id=%s",
            self.command,
            split.path,
            status,
            note,
            elapsed,
            self._request_id,
        )

    def _read_body(self) -> bytes | Reply:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return error_reply(411, "invalid_request", "send the body with a Content-Length")
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            size = -1
        if size < 0:
            self.close_connection = True
            return error_reply(400, "invalid_request", "Content-Length is not a valid length")
        if size > MAX_BODY_BYTES:
            self.close_connection = True
            return error_reply(413, "invalid_request", "the request body is too large")
        return self.rfile.read(size)

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("request-id", self._request_id)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _drop(self) -> None:
        """Close the connection without a byte of answer, as a crashed proxy would."""
        self.close_connection = True
        _shutdown(self.connection)

    # -- routing ----------------------------------------------------------------------------------

    def _route(self, path: str, query: dict[str, list[str]], body: bytes) -> Reply | None:
        sandbox = self.server.sandbox
        if path.startswith(CONTROL_PREFIX + "/") or path == CONTROL_PREFIX:
            return handle_control(sandbox.state, self.command, path[len(CONTROL_PREFIX) :], body)
        if self.command == "POST":
            if path == TOKEN_PATH:
                return self._token(body)
            if path == ONBOARD_PATH:
                return self._graph("onboard", query, body)
            if path == LIST_PATH:
                return self._graph("list", query, body)
        return error_reply(404, "not_found", "no such endpoint")

    def _token(self, body: bytes) -> Reply | None:
        sandbox = self.server.sandbox
        plan = sandbox.state.plan("token")
        self._sleep(plan.delay_seconds)
        fault = sandbox.state.admit("token", plan.draw).fault
        if fault is not None and not fault.processed:
            return self._unprocessed(fault)
        reply = sandbox.identity.token(self.headers.get("Content-Type", ""), body, self._audiences())
        return self._after_processing(fault, reply) if fault is not None else reply

    def _audiences(self) -> list[str]:
        """Token URLs a client assertion may name: the one the client called, and the public one."""
        audiences = []
        host = self.headers.get("Host")
        if host:
            scheme = "https" if self.server.sandbox.config.tls_cert else "http"
            audiences.append(f"{scheme}://{host}{TOKEN_PATH}")
        public_url = self.server.sandbox.config.public_url
        if public_url:
            audiences.append(public_url.rstrip("/") + TOKEN_PATH)
        return audiences

    def _graph(self, endpoint: str, query: dict[str, list[str]], body: bytes) -> Reply | None:
        sandbox = self.server.sandbox
        state, config = sandbox.state, sandbox.config
        plan = state.plan(endpoint)
        self._sleep(plan.delay_seconds)
        if endpoint == "onboard":
            needed: tuple[str, ...] = (SCOPE_READWRITE,)
        else:
            needed = (SCOPE_READ,) if config.list_requires_read_scope else (SCOPE_READ, SCOPE_READWRITE)
        denied = self._authorize(needed)
        if denied is not None:
            return denied
        payload: object = None
        account = None
        if endpoint == "onboard":
            try:
                payload = parse_json(body)
            except ValidationError as exc:
                payload = exc
            account = account_of(payload, case_insensitive=config.case_insensitive_fields)
        admission = state.admit(endpoint, plan.draw, account)
        fault = admission.fault
        if fault is not None and not fault.processed:
            return self._unprocessed(fault)
        if endpoint == "onboard":
            reply = graph.onboard(
                state, config, payload, counted_after_creation=admission.counted_after_creation
            )
        else:
            reply = graph.list_customers(state, query, body)
        return self._after_processing(fault, reply) if fault is not None else reply

    def _authorize(self, needed: tuple[str, ...]) -> Reply | None:
        """401 for a missing, unknown, expired or revoked token; 403 when it lacks the scope."""
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        scopes = (
            self.server.sandbox.state.token_scopes(token) if scheme.lower() == "bearer" and token else None
        )
        if scopes is None:
            message = "a valid bearer token is required" if token else "a bearer token is required"
            return error_reply(
                401, "invalid_token", message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        if scopes.isdisjoint(needed):
            challenge = f'Bearer error="insufficient_scope", scope="{needed[0]}"'
            return error_reply(
                403,
                "insufficient_scope",
                "the token lacks the scope this call needs",
                headers={"WWW-Authenticate": challenge},
                scope=needed[0],
            )
        return None

    # -- faults -----------------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.server.stopping.wait(seconds)

    def _unprocessed(self, fault: FaultAction) -> Reply | None:
        """The answer of a fault that hits before the backend acts."""
        note = f"fault={fault.label}"
        if fault.kind in ("reject", "rate_limited"):
            status = fault.http_status or 500
            error, message = _REJECT_ERRORS[status]
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return json_reply(status, {"error": error, "message": message}, headers, note)
        if fault.kind == "status":
            return json_reply(200, {"id": None, "status": fault.status}, note=note)
        if fault.kind == "malformed":  # status42, the only unprocessed malformed mode
            return json_reply(200, {"id": None, "status": 42}, note=note)
        self._sleep(fault.seconds or 0.0)  # hang: the client's read times out; then the line goes dead
        return None

    def _after_processing(self, fault: FaultAction, reply: Reply) -> Reply | None:
        """The answer of a fault that hits after the backend acted on the request."""
        note = f"{reply.note} fault={fault.label}".strip()
        if fault.kind == "lost":
            if fault.mode == "drop":
                return None
            error, message = _REJECT_ERRORS[500]
            return json_reply(500, {"error": error, "message": message}, note=note)
        if fault.mode == "html":
            return Reply(200, _HTML_ERROR_PAGE, "text/html; charset=utf-8", note=note)
        return Reply(200, reply.body[: max(1, len(reply.body) // 2)], JSON_TYPE, note=note)


class SandboxServer:
    """A running (or runnable) sandbox: identity service, Graph endpoints and control API.

    Use as a context manager, or :meth:`start` / :meth:`stop`. ``port`` 0 in the
    config picks a free port; :attr:`url` tells which.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.state = SandboxState(self.config)
        self.identity = IdentityService(self.config, self.state)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def start(self) -> SandboxServer:
        """Bind and serve in a background daemon thread; returns self.

        Started again after :meth:`stop`, it binds the same port and keeps its state,
        which is how tests stage an outage.
        """
        if self._httpd is not None:
            return self
        server_class = _HTTPServerV6 if ":" in self.config.host else _HTTPServer
        port = self._port if self._port is not None else self.config.port
        self._httpd = server_class((self.config.host, port), self)
        if self.config.tls_cert is not None:
            self._httpd.socket = self._tls_context().wrap_socket(
                # The handshake runs in the connection's own thread, on its first read, so a
                # client that connects and stalls cannot block accepting others.
                self._httpd.socket,
                server_side=True,
                do_handshake_on_connect=False,
            )
        self._port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},  # how fast stop() returns
            name=f"avepoint-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.info("AvePoint sandbox listening on %s (token endpoint %s)", self.url, self.token_url)
        return self

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return context

    def stop(self) -> None:
        """Stop serving, cut open connections (ending any hang) and flush the state file."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.cut_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.state.persist()
        log.info("AvePoint sandbox stopped")

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The bound port (still known after :meth:`stop`)."""
        if self._port is None:
            raise RuntimeError("the sandbox has not been started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL of both the Graph API and the identity service, e.g. ``http://127.0.0.1:54321``
        (``https`` when serving TLS)."""
        host = self.config.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.config.tls_cert else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    def control(self) -> SandboxControl:
        """A control client for this server (trusting its own TLS certificate, if it serves one)."""
        return SandboxControl(self.url, verify=str(self.config.tls_cert) if self.config.tls_cert else True)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
