"""A forward HTTP proxy on 127.0.0.1 that records what it forwarded: plain HTTP and CONNECT tunnels.

Enough of RFC 9110 for a test: absolute-form requests are forwarded one by one (bodies by
Content-Length) and CONNECT opens a byte tunnel, so HTTPS stays end-to-end encrypted and the
proxy only ever learns the tunnel's destination.
"""

from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.support.tcp_proxy import pipe

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
}


class ForwardProxy:
    """Use as a context manager; :attr:`url` for ``proxies`` and :attr:`forwarded` for what went through."""

    def __init__(self) -> None:
        self.forwarded: list[tuple[str, str]] = []  # (method, absolute URL or CONNECT host:port)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def record(self, method: str, target: str) -> None:
        with self._lock:
            self.forwarded.append((method, target))

    def __enter__(self) -> ForwardProxy:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(proxy: ForwardProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
            """Silent: the test reads :attr:`ForwardProxy.forwarded`."""

        def do_CONNECT(self) -> None:
            host, _, port = self.path.rpartition(":")
            proxy.record("CONNECT", self.path)
            try:
                upstream = socket.create_connection((host, int(port)), timeout=10)
            except OSError:
                self.send_error(502)
                return
            self.send_response(200, "Connection established")
            self.end_headers()
            self.close_connection = True
            _tunnel(self.connection, upstream)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.scheme != "http" or not parts.hostname:
                self.send_error(400, "absolute http:// URL expected")
                return
            proxy.record(self.command, self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
            try:
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                upstream.request(self.command, path, body=body or None, headers=headers)
                response = upstream.getresponse()
                content = response.read()
            except OSError:
                self.send_error(502)
                return
            finally:
                upstream.close()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP | {"content-length", "transfer-encoding"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    return Handler


def _tunnel(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""

    upstream.settimeout(None)
    other = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
    other.start()
    pipe(client, upstream)
    other.join(timeout=10)
    upstream.close()
