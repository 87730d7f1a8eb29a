"""Channel adapters: email over SMTP, SMS through an HTTP gateway, signed webhooks.

Each sender delivers one message to one address or raises a
:class:`TransientFailure` (worth retrying: a 5xx, a timeout, a server away) or a
:class:`PermanentFailure` (a 4xx, a refused address). Failure reasons name a
status code or an error class and never the address: they travel in
``NotificationFailed`` and in logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

import aiosmtplib
import httpx

from jumelage.events.notification import Channel
from notification.domain.delivery import Message, PermanentFailure, TransientFailure

SIGNATURE_HEADER = "X-Jumelage-Signature"
NOTIFICATION_HEADER = "X-Jumelage-Notification-Id"


@dataclass(frozen=True)
class Address:
    """Where one notification goes, read from the contact at sending time."""

    to: str
    secret: str | None = None  # webhooks: the contact's signing secret


@dataclass(frozen=True)
class Outgoing:
    notification_id: str
    language: str
    message: Message


class Sender(Protocol):
    async def send(self, outgoing: Outgoing, address: Address) -> None: ...


def _http_failure(service: str, status: int) -> Exception:
    # 408 and 429 say "later", like a 5xx; any other 4xx would fail the same way again.
    if status >= 500 or status in (408, 429):
        return TransientFailure(f"{service} answered {status}")
    return PermanentFailure(f"{service} answered {status}")


def _network_failure(service: str, exc: Exception) -> TransientFailure:
    return TransientFailure(f"{service} unreachable: {type(exc).__name__}")


class EmailSender:
    def __init__(self, *, host: str, port: int, sender: str, username: str | None = None,
                 password: str | None = None, use_tls: bool = False, start_tls: bool | None = None,
                 timeout: float = 30.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.use_tls, self.start_tls, self.timeout = use_tls, start_tls, timeout

    def compose(self, outgoing: Outgoing, to: str) -> EmailMessage:
        message = outgoing.message
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = to
        email["Subject"] = message.subject or ""
        email["Message-ID"] = make_msgid(domain="jumelage")
        # Lets a mailbox recognise the rare second copy after a crash (at-least-once).
        email[NOTIFICATION_HEADER] = outgoing.notification_id
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        email["Content-Language"] = outgoing.language  # after the body: set_content clears Content-* headers
        return email

    async def send(self, outgoing: Outgoing, address: Address) -> None:
        try:
            await aiosmtplib.send(
                self.compose(outgoing, address.to), hostname=self.host, port=self.port,
                username=self.username, password=self.password, use_tls=self.use_tls,
                start_tls=self.start_tls, timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = sorted({r.code for r in exc.recipients})
            raise (TransientFailure if all(400 <= c < 500 for c in codes) else PermanentFailure)(
                f"smtp refused the recipient ({', '.join(map(str, codes))})") from None
        except aiosmtplib.SMTPResponseException as exc:
            kind = TransientFailure if 400 <= exc.code < 500 else PermanentFailure
            raise kind(f"smtp answered {exc.code}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise _network_failure("smtp server", exc) from None


class SmsSender:
    """POSTs ``{"to": "+213…", "text": "…"}`` to the gateway, with a bearer token if set."""

    def __init__(self, client: httpx.AsyncClient, *, url: str | None, token: str | None = None) -> None:
        self.client, self.url, self.token = client, url, token

    async def send(self, outgoing: Outgoing, address: Address) -> None:
        if not self.url:
            raise PermanentFailure("no SMS gateway configured (SMS_GATEWAY_URL)")
        headers = {NOTIFICATION_HEADER: outgoing.notification_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = await self.client.post(self.url, json={"to": address.to, "text": outgoing.message.text},
                                              headers=headers)
        except httpx.HTTPError as exc:
            raise _network_failure("sms gateway", exc) from None
        if not response.is_success:
            raise _http_failure("sms gateway", response.status_code)


def webhook_body(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the raw body with the contact's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, outgoing: Outgoing, address: Address) -> None:
        if not address.secret:
            raise PermanentFailure("webhook has no signing secret")
        body = webhook_body(outgoing.message.payload or {})
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(address.secret, body),
            NOTIFICATION_HEADER: outgoing.notification_id,
        }
        try:
            response = await self.client.post(address.to, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise _network_failure("webhook", exc) from None
        if not response.is_success:
            raise _http_failure("webhook", response.status_code)


def http_client(timeout: float) -> httpx.AsyncClient:
    # No redirects: a webhook that moves must be re-registered, not followed blindly.
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False)


Senders = Mapping[Channel, Sender]
