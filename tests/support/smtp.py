"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for the alert tests."""

from __future__ import annotations

import email
import socket
from dataclasses import dataclass, field
from email.message import Message
from typing import Any


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    raw: str
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        """Every text part, decoded (the notifier may send base64)."""
        parts = []
        for part in self.message.walk():
            if part.get_content_maintype() == "text":
                parts.append(part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8"))
        return "\n".join(parts)

    @property
    def everything(self) -> str:
        """The raw message and its decoded text: what a secret must appear in neither of."""
        return f"{self.raw}\n{self.body}"


@dataclass
class Inbox:
    messages: list[ReceivedMail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.content.decode("utf-8", errors="replace")
        self.messages.append(
            ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), raw, email.message_from_string(raw))
        )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def smtp_connection(port: int) -> dict[str, Any]:
    """``smtp_default`` in Airflow's JSON form: plain SMTP on 127.0.0.1, no TLS, no retries."""
    return {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {
            "from_email": "airflow@ops.example",
            "disable_tls": True,
            "disable_ssl": True,
            "timeout": 5,
            "retry_limit": 0,
        },
    }
