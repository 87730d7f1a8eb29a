"""EmailSender keeps SMTP connections open and reuses them, against a real SMTP
server (aiosmtpd) on a loopback port that counts its sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from jumelage.testkit.mail import MailCatcher as SmtpInbox
from jumelage.testkit.ports import free_port
from jumelage.testkit.waiting import eventually, scaled
from notification.adapters import channels
from notification.adapters.channels import NOTIFICATION_HEADER, Address, EmailSender, Outgoing
from notification.domain.delivery import Message, OutcomeUnknown, PermanentFailure, TransientFailure

FROM = "Jumelage <notifications@jumelage.local>"


class SessionCountingInbox(SmtpInbox):
    """What the server received, and its SMTP sessions (one EHLO each): how many, how many
    open at once, their NOOPs and QUITs. ``refuse`` refuses a recipient with a reply,
    ``noop_reply`` answers NOOP with one; ``hang_up_at`` ("MAIL" or "DATA", once) closes
    the connection there instead of answering (at DATA, after receiving the message)."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions = 0
        self.open = 0
        self.most_open = 0
        self.ended = 0
        self.noops = 0
        self.quits = 0
        self.noop_reply: str | None = None  # None: 250
        self.data_delay = 0.0  # keeps sends overlapping
        self.hang_up_at: str | None = None
        self.servers: list[SMTP] = []  # one per session still open
        self.senders: list[str] = []  # MAIL FROM, in order

    async def handle_EHLO(self, server: SMTP, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname  # the "new" EHLO hook must set it
        with self._lock:
            if server not in self.servers:
                self.sessions += 1
                self.open += 1
                self.most_open = max(self.most_open, self.open)
                self.servers.append(server)
        return responses

    async def handle_NOOP(self, server: SMTP, session: Any, envelope: Any, arg: str) -> str:
        with self._lock:
            self.noops += 1
        return self.noop_reply or "250 OK"

    async def handle_QUIT(self, server: SMTP, session: Any, envelope: Any) -> str:
        with self._lock:
            self.quits += 1
        return "221 Bye"

    def _hangs_up(self, server: SMTP, stage: str) -> bool:
        if self.hang_up_at != stage:
            return False
        self.hang_up_at = None
        server.transport.close()
        return True

    async def handle_MAIL(self, server: SMTP, session: Any, envelope: Any, address: str, mail_options: Any) -> str:
        if self._hangs_up(server, "MAIL"):
            return "421 4.4.2 closing"  # never reaches the client
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        self.senders.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.data_delay)
        reply = await super().handle_DATA(server, session, envelope)
        self._hangs_up(server, "DATA")
        return reply

    def session_ended(self, server: SMTP) -> None:
        with self._lock:
            if server in self.servers:
                self.servers.remove(server)
                self.open -= 1
                self.ended += 1


class _CountingSMTP(SMTP):
    def connection_lost(self, error: Exception | None) -> None:
        self.event_handler.session_ended(self)
        super().connection_lost(error)


class CountingController(Controller):
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)

    def hang_up(self) -> None:
        """Close every session from the server's side, as a server dropping idle clients does."""
        for server in list(self.handler.servers):
            self.loop.call_soon_threadsafe(server.transport.close)


@pytest.fixture
def smtp() -> Iterator[tuple[SessionCountingInbox, CountingController]]:
    inbox = SessionCountingInbox()
    controller = CountingController(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller
    finally:
        controller.stop()


def sender(controller: Controller, **kw: Any) -> EmailSender:
    return EmailSender(host="127.0.0.1", port=controller.port, sender=FROM, timeout=scaled(30.0), **kw)


def outgoing(n: int) -> Outgoing:
    return Outgoing(f"notification-{n}", "fr", Message(text=f"Mission {n} confirmée.", subject=f"Mission {n}",
                                                       html=f"<p>Mission {n} confirmée.</p>"))


SURGEON = Address("a.frigiola@grupposandonato.it")


async def test_sequential_sends_share_one_connection(smtp: Any) -> None:
    inbox, controller = smtp
    mailer = sender(controller)
    try:
        for n in range(5):
            await mailer.send(outgoing(n), SURGEON)
    finally:
        await mailer.close()

    assert inbox.sessions == 1, "one connection, one EHLO"
    messages = inbox.messages(to=SURGEON.to)
    assert [m[NOTIFICATION_HEADER] for m in messages] == [f"notification-{n}" for n in range(5)]
    for n, message in enumerate(messages):
        assert message["Subject"] == f"Mission {n}"
        assert message["From"] == FROM
        assert message["To"] == SURGEON.to
        assert message["Content-Language"] == "fr"
        assert message["Message-ID"]
        assert message.get_body(preferencelist=("html",)) is not None


async def test_non_ascii_names_and_subjects_are_encoded_and_the_envelope_uses_the_bare_sender(smtp: Any) -> None:
    inbox, controller = smtp
    mailer = EmailSender(host="127.0.0.1", port=controller.port, sender="Jumelage — Santé <notif@jumelage.local>",
                         timeout=scaled(30.0))
    text_only = Outgoing("notification-ar", "ar", Message(text="تذكير: عملية جراحية غدًا", subject="تذكير: عملية"))
    try:
        await mailer.send(text_only, SURGEON)
    finally:
        await mailer.close()

    [message] = inbox.messages(to=SURGEON.to)
    assert message["From"] == "Jumelage — Santé <notif@jumelage.local>"
    assert message["Subject"] == "تذكير: عملية"
    assert message["Date"] is not None and message["Date"].datetime is not None
    assert message.get_content_type() == "text/plain"
    assert message.get_content().strip() == "تذكير: عملية جراحية غدًا"
    assert inbox.senders == ["notif@jumelage.local"]


def test_a_sender_that_is_not_an_address_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="not an e-mail address"):
        EmailSender(host="127.0.0.1", port=25, sender="Jumelage")


async def test_concurrent_sends_never_open_more_than_max_connections(smtp: Any) -> None:
    inbox, controller = smtp
    inbox.data_delay = 0.05
    mailer = sender(controller, max_connections=3)
    try:
        await asyncio.gather(*(mailer.send(outgoing(n), SURGEON) for n in range(10)))
    finally:
        await mailer.close()

    assert sorted(m[NOTIFICATION_HEADER] for m in inbox.messages()) == sorted(f"notification-{n}" for n in range(10))
    assert inbox.most_open == 3
    assert inbox.sessions == 3, "connections are reused, not reopened"


async def test_a_connection_the_server_dropped_while_idle_is_replaced(smtp: Any) -> None:
    inbox, controller = smtp
    mailer = sender(controller)
    try:
        await mailer.send(outgoing(1), SURGEON)
        controller.hang_up()
        await eventually(lambda: inbox.ended == 1)

        await mailer.send(outgoing(2), SURGEON)
    finally:
        await mailer.close()

    assert inbox.sessions == 2
    assert [m[NOTIFICATION_HEADER] for m in inbox.messages()] == ["notification-1", "notification-2"]


async def test_a_hang_up_before_data_on_a_reused_connection_sends_on_a_fresh_one(smtp: Any) -> None:
    inbox, controller = smtp
    mailer = sender(controller)
    try:
        await mailer.send(outgoing(1), SURGEON)
        inbox.hang_up_at = "MAIL"  # as if it dropped us just before we spoke
        await mailer.send(outgoing(2), SURGEON)
    finally:
        await mailer.close()

    assert inbox.sessions == 2
    assert [m[NOTIFICATION_HEADER] for m in inbox.messages()] == ["notification-1", "notification-2"]


async def test_a_message_is_not_sent_again_once_data_started(smtp: Any) -> None:
    inbox, controller = smtp
    mailer = sender(controller)
    try:
        await mailer.send(outgoing(1), SURGEON)
        inbox.hang_up_at = "DATA"
        with pytest.raises(OutcomeUnknown) as lost:
            await mailer.send(outgoing(2), SURGEON)
        assert lost.value.reason == ("outcome unknown: smtp server SMTPServerDisconnected after the message was "
                                     "sent; not sent again")
        await eventually(lambda: inbox.ended == 1)  # the server's side of the dropped session is over
    finally:
        await mailer.close()

    assert [m[NOTIFICATION_HEADER] for m in inbox.messages()] == ["notification-1", "notification-2"], \
        "the server got it once, and the worker is told it may have arrived: no retry"
    assert inbox.sessions == 1


async def test_a_connection_idle_a_while_is_checked_with_noop_and_replaced_if_it_fails(
    smtp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, controller = smtp
    monkeypatch.setattr(channels, "_CHECK_AFTER_IDLE", 0.2)  # a second in service; a fifth keeps the tier fast
    mailer = sender(controller)
    try:
        await mailer.send(outgoing(1), SURGEON)
        # Time itself is the condition here: idle over the threshold (a busier machine only idles it longer).
        await asyncio.sleep(0.3)
        await mailer.send(outgoing(2), SURGEON)
        assert (inbox.noops, inbox.sessions) == (1, 1), "NOOP answered: the connection is kept"

        inbox.noop_reply = "421 4.3.2 service shutting down"
        await asyncio.sleep(0.3)
        await mailer.send(outgoing(3), SURGEON)
    finally:
        await mailer.close()

    assert (inbox.noops, inbox.sessions) == (2, 2), "NOOP failed: a fresh connection sent the message"
    assert [m[NOTIFICATION_HEADER] for m in inbox.messages()] == [f"notification-{n}" for n in (1, 2, 3)]


async def test_a_connection_idle_over_idle_timeout_is_replaced(smtp: Any) -> None:
    inbox, controller = smtp
    mailer = sender(controller, idle_timeout=0.2)
    try:
        await mailer.send(outgoing(1), SURGEON)
        await asyncio.sleep(0.3)  # idle over idle_timeout: time itself is the condition
        await mailer.send(outgoing(2), SURGEON)
        await eventually(lambda: inbox.ended == 1)  # the old one was closed
    finally:
        await mailer.close()

    assert inbox.sessions == 2
    assert inbox.noops == 0, "replaced, not checked"
    assert len(inbox.messages()) == 2


async def test_a_refused_recipient_fails_permanently_and_the_connection_serves_on(smtp: Any) -> None:
    inbox, controller = smtp
    nobody = Address("nobody@grupposandonato.it")
    inbox.refuse[nobody.to] = "550 5.1.1 no such mailbox"
    mailer = sender(controller)
    try:
        with pytest.raises(PermanentFailure) as refused:
            await mailer.send(outgoing(1), nobody)
        assert refused.value.reason == "smtp refused the recipient (550)"
        assert nobody.to not in refused.value.reason

        await mailer.send(outgoing(2), SURGEON)
    finally:
        await mailer.close()

    assert [m[NOTIFICATION_HEADER] for m in inbox.messages(to=SURGEON.to)] == ["notification-2"]
    assert inbox.sessions == 1, "RSET succeeded: the connection was kept"


async def test_a_recipient_refused_for_now_is_transient(smtp: Any) -> None:
    inbox, controller = smtp
    full = Address("boite.pleine@cmci.dz")
    inbox.refuse[full.to] = "452 4.2.2 mailbox full"
    mailer = sender(controller)
    try:
        with pytest.raises(TransientFailure) as refused:
            await mailer.send(outgoing(1), full)
    finally:
        await mailer.close()
    assert refused.value.reason == "smtp refused the recipient (452)"


async def test_an_unreachable_server_is_a_transient_failure() -> None:
    mailer = EmailSender(host="127.0.0.1", port=free_port(), sender=FROM, timeout=scaled(30.0))
    with pytest.raises(TransientFailure) as away:
        await mailer.send(outgoing(1), SURGEON)
    assert away.value.reason == "smtp server unreachable: SMTPConnectError"
    await mailer.close()


async def test_close_quits_the_pooled_connections(smtp: Any) -> None:
    inbox, controller = smtp
    inbox.data_delay = 0.05
    mailer = sender(controller, max_connections=2)
    await asyncio.gather(*(mailer.send(outgoing(n), SURGEON) for n in range(2)))
    assert (inbox.sessions, inbox.open) == (2, 2), "both kept open after sending"

    await mailer.close()

    await eventually(lambda: inbox.ended == 2)
    assert inbox.quits == 2
