"""An in-process fake of the HTTP layer: a requests transport adapter that plays a script.

Mounted on a hook's session, it answers each request with the next scripted reply
for its path (a response spec or an exception to raise) and records what was sent.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

TOKEN_PATH = "/connect/token"
ONBOARD_PATH = "/partner/external/v3/general/customers"
LIST_PATH = "/partner/external/v3/general/customers/batch"


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes | str | None
    timeout: Any

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        text = self.body.decode() if isinstance(self.body, bytes) else self.body
        return {k: v[0] for k, v in parse_qs(text).items()}


class FakeAvePoint(BaseAdapter):
    """Scripted replies per path; unscripted token requests get a fresh token, others a 599."""

    def __init__(self, token_lifetime: int = 3600) -> None:
        super().__init__()
        self.script: dict[str, deque[Reply | BaseException]] = defaultdict(deque)
        self.sent: list[Sent] = []
        self.token_lifetime = token_lifetime
        self.tokens_issued: list[str] = []
        # Called before each reply, e.g. to advance a test's clock by a request's duration.
        self.before_reply: Callable[[], None] = lambda: None

    def queue(self, path: str, *replies: Reply | BaseException) -> None:
        self.script[path].extend(replies)

    def sent_to(self, path: str) -> list[Sent]:
        return [s for s in self.sent if s.path == path]

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        parts = urlsplit(request.url)
        self.sent.append(
            Sent(
                request.method,
                parts.path,
                parse_qs(parts.query),
                dict(request.headers),
                request.body,
                timeout,
            )
        )
        self.before_reply()
        if self.script[parts.path]:
            reply = self.script[parts.path].popleft()
        elif parts.path == TOKEN_PATH:
            token = f"token-{len(self.tokens_issued) + 1}-abcdefgh"
            self.tokens_issued.append(token)
            reply = Reply(
                body={"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
            )
        else:
            reply = Reply(status=599, body={"error": f"nothing scripted for {parts.path}"})
        if isinstance(reply, BaseException):
            raise reply
        return self._response(request, reply)

    @staticmethod
    def _response(request, reply: Reply) -> requests.Response:
        response = requests.Response()
        response.status_code = reply.status
        response.request = request
        response.url = request.url
        if reply.raw is not None:
            content = reply.raw
        elif reply.body is None:
            content = b""
        else:
            content = json.dumps(reply.body).encode()
        response._content = content
        headers = {"Content-Type": "application/json", "request-id": "req-123"} | reply.headers
        response.headers = CaseInsensitiveDict(headers)
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def customer_page(customers: list[dict], page_index: int, page_size: int) -> Reply:
    start = (page_index - 1) * page_size
    return Reply(
        body={
            "data": customers[start : start + page_size],
            "metadata": {"pageIndex": page_index, "pageSize": page_size, "totalCount": len(customers)},
        }
    )
