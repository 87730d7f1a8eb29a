"""Channel adapters: email over SMTP, SMS through an HTTP gateway, signed webhooks.

Each sender delivers one message to one address or raises a
:class:`TransientFailure` (worth retrying: a 5xx, a timeout, a server away) or a
:class:`PermanentFailure` (a 4xx, a refused address), or an
:class:`OutcomeUnknown` when the failure came after the message had left (the
connection lost after SMTP DATA began, no answer to an SMS request sent): it
may have arrived, so it is never sent again. Webhooks are the exception: a
receiver drops a second copy by its ``webhook-id`` (Standard Webhooks), so a
webhook without an answer is retried. Failure reasons name a status code or an
error class and never the address: they travel in ``NotificationFailed`` and in
logs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.charset import BASE64, Charset
from email.header import Header
from email.message import Message as MimeMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any, Protocol

import aiosmtplib
import httpx
import standardwebhooks

from jumelage.events.notification import Channel
from notification.domain.delivery import DeliveryFailure, Message, OutcomeUnknown, PermanentFailure, TransientFailure

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


def _lost_after_sending(service: str, exc: Exception) -> OutcomeUnknown:
    return OutcomeUnknown(f"outcome unknown: {service} {type(exc).__name__} after the message was sent; "
                          "not sent again")


# httpx errors before the request left: nothing was sent, another attempt is safe.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _smtp_refusal(exc: aiosmtplib.SMTPRecipientsRefused | aiosmtplib.SMTPResponseException) -> DeliveryFailure:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = sorted({r.code for r in exc.recipients})
        return (TransientFailure if all(400 <= c < 500 for c in codes) else PermanentFailure)(
            f"smtp refused the recipient ({', '.join(map(str, codes))})")
    kind = TransientFailure if 400 <= exc.code < 500 else PermanentFailure
    return kind(f"smtp answered {exc.code}")


# A connection idle longer than this may have been dropped without our noticing: NOOP first.
_CHECK_AFTER_IDLE = 1.0

_SMTP_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError)

# Bodies in UTF-8, base64: 7-bit safe for any server, and encoded in C (quoted-printable is pure Python).
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = BASE64
_SMTP_POLICY = compat32.clone(linesep="\r\n")


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


class _Connection(aiosmtplib.SMTP):
    """An SMTP client that knows whether the message under way reached DATA: a
    connection lost before that lost nothing, and the message may go on another."""

    data_started = False

    async def data(self, *args: Any, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        self.data_started = True
        return await super().data(*args, **kwargs)


@dataclass(frozen=True)
class _IdleConnection:
    client: _Connection
    since: float  # time.monotonic()


class EmailSender:
    """Sends over a small pool of open SMTP connections: opening one costs the
    banner, EHLO, STARTTLS and AUTH round trips, on the path from a command to its email.

    At most ``max_connections`` are open; a send takes an idle one, opens one, or
    waits. One idle over ``idle_timeout`` seconds is closed instead of used
    (servers drop idle clients). Each message is sent at most once per call: a
    failure is reported, never retried after DATA (the delivery worker retries).
    """

    def __init__(self, *, host: str, port: int, sender: str, username: str | None = None,
                 password: str | None = None, use_tls: bool = False, start_tls: bool | None = None,
                 timeout: float = 30.0, max_connections: int = 4, idle_timeout: float = 30.0) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.host, self.port, self.sender = host, port, sender
        name, self._envelope_from = parseaddr(sender)
        if "@" not in self._envelope_from:
            raise ValueError(f"the sender {sender!r} is not an e-mail address")
        self._from_header = formataddr((name, self._envelope_from))  # RFC 2047 for a non-ASCII name
        self.username, self.password = username, password
        self.use_tls, self.start_tls, self.timeout = use_tls, start_tls, timeout
        self.idle_timeout = idle_timeout
        self._slots = asyncio.Semaphore(max_connections)  # one per connection in use
        self._idle: deque[_IdleConnection] = deque()  # oldest first

    def compose(self, outgoing: Outgoing, to: str) -> bytes:
        """The message as sent: text, and HTML as its alternative when there is one.

        Built with the ``compat32`` MIME classes, not ``EmailMessage``: measured,
        the modern API's header parsing made composing and flattening one
        notification cost several milliseconds of CPU on the path from a command
        to its e-mail (``scripts/bench.py`` (e)). The headers we set are simple:
        ASCII addresses (``check_email``) and a subject encoded as RFC 2047 when
        it is not ASCII."""
        message = outgoing.message
        text = MIMEText(message.text, "plain", _UTF8)
        email: MimeMessage = text
        if message.html:
            # "=_" never occurs in base64: a boundary the generator need not search the parts for.
            email = MIMEMultipart("alternative", boundary=f"=_{uuid.uuid4().hex}",
                                  _subparts=[text, MIMEText(message.html, "html", _UTF8)])
        email["From"] = self._from_header
        email["To"] = to
        email["Subject"] = _header(message.subject or "")
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = make_msgid(domain="jumelage")
        # The same id on every attempt: a mailbox can tell this message from another.
        email[NOTIFICATION_HEADER] = outgoing.notification_id
        email["Content-Language"] = outgoing.language
        return email.as_bytes(policy=_SMTP_POLICY)

    async def send(self, outgoing: Outgoing, address: Address) -> None:
        email = self.compose(outgoing, address.to)
        async with self._slots:
            client: _Connection | None = None
            try:
                client = await self._idle_connection()
                if client is not None:
                    try:
                        await self._send_on(client, address.to, email)
                        return
                    except ConnectionError:
                        # A hang-up we had not seen yet: before DATA nothing went out, so try a fresh one.
                        if client.data_started:
                            raise
                client = await self._open()
                await self._send_on(client, address.to, email)
            except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
                raise _smtp_refusal(exc) from None  # the server answered: nothing was accepted
            except _SMTP_ERRORS as exc:
                if client is not None and client.data_started:  # no answer after DATA: it may have arrived
                    raise _lost_after_sending("smtp server", exc) from None
                raise _network_failure("smtp server", exc) from None

    async def close(self) -> None:
        """QUIT every idle connection. The sender stays usable: a later send opens a new one."""
        idle = [c.client for c in self._idle]
        self._idle.clear()
        await asyncio.gather(*(c.quit() for c in idle), return_exceptions=True)
        for client in idle:
            client.close()  # if QUIT failed

    async def _idle_connection(self) -> _Connection | None:
        """The most recently used idle connection that still works."""
        while self._idle and time.monotonic() - self._idle[0].since > self.idle_timeout:
            self._idle.popleft().client.close()  # no QUIT: not worth a round trip on the send's path
        while self._idle:
            idle = self._idle.pop()
            idle_for = time.monotonic() - idle.since
            if idle.client.is_connected and idle_for <= self.idle_timeout and (
                    idle_for <= _CHECK_AFTER_IDLE or await _answers(idle.client)):
                return idle.client
            idle.client.close()  # the server hung up, or it sat too long, or NOOP failed
        return None

    async def _open(self) -> _Connection:
        client = _Connection(hostname=self.host, port=self.port, username=self.username, password=self.password,
                             use_tls=self.use_tls, start_tls=self.start_tls, timeout=self.timeout)
        await client.connect()  # banner, STARTTLS and AUTH as configured; closes itself on failure
        return client

    async def _send_on(self, client: _Connection, to: str, email: bytes) -> None:
        """Send, then pool the connection, or close it if its state is unknown."""
        client.data_started = False
        reusable = False
        try:
            await client.sendmail(self._envelope_from, [to], email)
            reusable = True
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException):
            # The server answered: only this envelope failed, the connection may serve again.
            reusable = await _reset(client)
            raise
        finally:
            if reusable and client.is_connected:
                self._idle.append(_IdleConnection(client, time.monotonic()))
            else:
                client.close()


async def _answers(client: aiosmtplib.SMTP) -> bool:
    """NOOP on an idle connection; closes it unless the server answers 250."""
    answered = False
    try:
        await client.noop()
        answered = True
    except _SMTP_ERRORS:
        pass
    finally:
        if not answered:  # also when cancelled mid-command
            client.close()
    return answered


async def _reset(client: aiosmtplib.SMTP) -> bool:
    # aiosmtplib already sent RSET after the refusal but ignores its outcome: ask again to know.
    try:
        await client.rset()
    except _SMTP_ERRORS:
        return False
    return True


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
        except _NOT_SENT as exc:
            raise _network_failure("sms gateway", exc) from None
        except httpx.HTTPError as exc:  # sent, and no answer: a person may already have the text
            raise _lost_after_sending("sms gateway", exc) from None
        if not response.is_success:
            raise _http_failure("sms gateway", response.status_code)


def webhook_body(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the raw body with the contact's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_signature_headers(secret: str, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """Standard Webhooks (standardwebhooks.com) headers: ``webhook-signature`` is
    ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``, so a receiver that
    checks the timestamp (within minutes) refuses a replayed request. The key is
    the contact's secret as UTF-8 bytes."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": standardwebhooks.Webhook(secret.encode()).sign(message_id, at, body.decode()),
    }


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, outgoing: Outgoing, address: Address) -> None:
        if not address.secret:
            raise PermanentFailure("webhook has no signing secret")
        body = webhook_body(outgoing.message.payload or {})
        headers = {
            "Content-Type": "application/json",
            # The same id on every attempt: a receiver drops the rare second copy.
            **standard_signature_headers(address.secret, outgoing.notification_id, body, datetime.now(UTC)),
            SIGNATURE_HEADER: signature(address.secret, body),  # the body alone: kept for existing receivers
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
