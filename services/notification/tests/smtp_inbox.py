"""Test helpers shared by the notification tests: a free port and a real SMTP
server's inbox (aiosmtpd handler)."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import EmailMessage
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpInbox:
    """What a real SMTP server received; ``refuse`` makes it refuse a recipient with a code."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.refuse: dict[str, str] = {}
        self._lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted"

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        with self._lock:
            received = list(self.received)
        return [email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
                for rcpts, raw in received if to is None or to in rcpts]
