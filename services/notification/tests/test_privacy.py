"""Contact details never leave the service: not in a log line, not in an event,
not in the notification history, not in a webhook payload. A full flow with every
channel, a retry, a failure and a reminder, watched from outside."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog

from jumelage.clock import Clock
from jumelage.logging import configure_logging

EMAIL = "famille.benali@example.dz"
PHONE = "+213555987654"
SURGEON_EMAIL = "a.frigiola@grupposandonato.it"
SECRET = "cmci-webhook-secret-0123456789"


class RunningClock(Clock):
    """Runs at normal speed (so retries come due) from an instant the test can move."""

    def __init__(self, at: datetime) -> None:
        super().__init__("Africa/Algiers", simulated_start=at)

    def jump_to(self, at: datetime) -> None:
        self._offset += at - self.now()


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted is still looked at
            self.lines.append(f"{record.getMessage()} {record.args!r} {record.__dict__!r}")


@pytest.fixture
def captured_logs() -> Iterator[Capture]:
    """Everything logged, at DEBUG, formatted as the service's JSON log lines."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, structlog.get_config())
    configure_logging("notification", "json", "DEBUG")
    capture = Capture()
    capture.setFormatter(root.handlers[0].formatter)
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        structlog.configure(**saved[2])


def is_ours(line: str) -> bool:
    """The test's own SMTP server (aiosmtpd, loggers ``mail.log``) logs what it receives: that
    is the outside world's log, not ours."""
    try:
        return not json.loads(line).get("logger", "").startswith("mail.log")
    except ValueError:
        return "mail.log" not in line


async def test_no_contact_detail_in_logs_events_history_or_payloads(
    notification_service: Any, programme: Any, captured_logs: Capture, capfd: pytest.CaptureFixture[str]
) -> None:
    clock = RunningClock(datetime(2031, 5, 20, 8, 0, tzinfo=UTC))
    async with notification_service(clock=clock) as h:
        hook_url = f"{h.http.url}/hooks/cmci-{programme.cmci.hex[:8]}"
        details = [EMAIL, PHONE, "555987654", SURGEON_EMAIL, hook_url, hook_url.split("//")[1], SECRET]
        h.http.script["/sms"] = [503]  # one retry on the SMS gateway
        h.smtp.refuse[SURGEON_EMAIL] = "550 5.1.1 <a.frigiola@grupposandonato.it>: no such mailbox"

        family = await h.family(programme.patient_ref, email=EMAIL, phone=PHONE, display_name="Famille Benali")
        await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id), email=SURGEON_EMAIL)
        await h.contact(kind="institution", institution_id=str(programme.cmci), webhook_url=hook_url,
                        webhook_secret=SECRET)
        await h.given(*programme.institutions(), programme.convention_signed(), programme.mission_scheduled())
        await h.publish(programme.surgery_scheduled())
        await h.settled(5)  # host webhook, surgeon (mission, surgery), family email + sms
        clock.jump_to(datetime(2031, 5, 26, 8, 0, tzinfo=UTC))
        await h.settled(8)  # the reminder: family email + sms, and the surgeon (refused again)
        bad = {"PATCH": await h.client.patch(f"/contacts/{family['id']}", json={"email": "not-an-email"})}
        assert bad["PATCH"].status_code == 422

        await h.tap.wait_for(lambda bodies: len([b for b in bodies if b["type"].startswith("Notification")]) == 8)
        history = json.dumps([await h.notifications()] + [
            (await h.client.get(f"/notifications/{n['id']}")).json() for n in await h.notifications()])
        payloads = [r.body.decode() for r in h.http.requests if r.path.startswith("/hooks/")]

    events = [json.dumps(b, ensure_ascii=False) for b in h.tap.bodies()]
    statuses = {b["type"] for b in h.tap.bodies()}
    assert {"NotificationSent", "NotificationFailed"} <= statuses, "both kinds were emitted and looked at"
    ours = [line for line in captured_logs.lines if is_ours(line)]
    assert any("notification sent" in line for line in ours + [capfd.readouterr().out]), "the capture works"
    printed = capfd.readouterr()
    logged = "\n".join(ours) + printed.out + printed.err
    assert family["recipient_ref"] in logged + "".join(events)

    for detail in details:
        assert detail not in logged, f"{detail!r} in the logs"
        for event in events:
            assert detail not in event, f"{detail!r} in an event"
        assert detail not in history, f"{detail!r} in the notification history"
        for payload in payloads:
            assert detail not in payload, f"{detail!r} in a webhook payload"
    assert len(payloads) == 1
