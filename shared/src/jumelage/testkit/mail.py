"""The SMTP catcher: a real SMTP server (aiosmtpd) on a loopback port that keeps what
arrives (tests read it back; ``make run`` prints it on the demo's timeline), and
``MailSinkProcess``, an SMTP server in a process of its own that drops every message.

aiosmtpd is imported only when a catcher starts: importing this module needs none."""

from __future__ import annotations

import email
import email.policy
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from email.message import EmailMessage
from typing import Any

from jumelage.testkit.ports import free_port


class MailCatcher:
    """What a real SMTP server received; ``refuse`` makes it refuse a recipient with a
    code (``{"x@example.org": "550 no such user"}``); ``on_message`` is called with each
    message as it arrives. ``start()`` serves it (aiosmtpd, in a thread) on ``port``."""

    def __init__(self, on_message: Callable[[EmailMessage, list[str]], None] | None = None) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.refuse: dict[str, str] = {}
        self.on_message = on_message
        self.port: int = 0
        self._lock = threading.Lock()
        self._controller: Any = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802 (aiosmtpd's name)
                          rcpt_options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        rcpts, raw = list(envelope.rcpt_tos), bytes(envelope.content)
        with self._lock:
            self.received.append((rcpts, raw))
        if self.on_message is not None:
            self.on_message(_parse(raw), rcpts)
        return "250 Message accepted"

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        with self._lock:
            received = list(self.received)
        return [_parse(raw) for rcpts, raw in received if to is None or to in rcpts]

    def start(self, controller: type | None = None, port: int | None = None) -> int:
        """Serve on ``port`` (a free one by default); ``controller``: an aiosmtpd
        ``Controller`` subclass, for a test that needs one of its own."""
        if controller is None:
            from aiosmtpd.controller import Controller as controller  # noqa: N813
        self._controller = controller(self, hostname="127.0.0.1", port=port or free_port())
        self._controller.start()
        self.port = self._controller.port
        return self.port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def _parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


class MailSinkProcess:
    """An SMTP server in a process of its own (as a real mail server would be),
    accepting and dropping every message (aiosmtpd's ``Sink``)."""

    def start(self, timeout: float = 15) -> int:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            with suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self.port
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the SMTP server (aiosmtpd) did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        with suppress(Exception):
            self.proc.wait(timeout=10)


def subjects(mail: MailCatcher, to: str) -> list[str]:
    """The subjects of what reached ``to``, in the order received."""
    return [m["Subject"].strip() for m in mail.messages(to=to)]
