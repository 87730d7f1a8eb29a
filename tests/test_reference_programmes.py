"""Both reference programmes end to end: the README's run command plays them
against the three services as real processes on the real broker, on SQLite and
on PostgreSQL, and each convention's progress comes out right."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jumelage.testkit.servers import Database
from jumelage.testkit.waiting import scaled

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.system
@pytest.mark.cost(50)  # both programmes, all three services
async def test_both_programmes_play_end_to_end(amqp_url: str, database: Database, tmp_path: Path) -> None:
    env = {**os.environ, "AMQP_URL": amqp_url, "DATA_DIR": str(tmp_path), "LOG_FORMAT": "json",
           "LOG_LEVEL": "WARNING"}
    if database.kind == "postgresql":
        for service in ("convention", "scheduling", "notification"):
            own = await database.for_service(service)
            env[f"{service.upper()}_DATABASE_URL"] = own.url
            env[f"{service.upper()}_DATABASE_SCHEMA"] = own.schema or ""
    done = subprocess.run([sys.executable, "scripts/run.py", "--exit-after-demo", "--port-offset", "300"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=scaled(480))
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    # The first run a newcomer sees: no traceback (the scenario clock read half written, issue 16).
    for trace in ("Traceback", "Invalid isoformat", "never retrieved"):
        assert trace not in out + done.stderr, (out + done.stderr)[-3000:]
    cnas, twinning = re.split(r"\n  DSP-ORAN-TIARET", out.split("== What each convention achieved")[1])
    assert "plan   8 cases (optimal)" in out, "the optimiser places the whole waiting list"
    assert re.search(r"surgeries\s+8 / 60", cnas) and "treated here instead of abroad: 8" in cnas
    assert re.search(r"training sessions\s+2 / 12 .*7.0 h, 20 trainee places", cnas)
    assert "'with_complications': 1" in cnas
    assert re.search(r"surgeries\s+4 / 40", twinning) and re.search(r"consultations\s+3 / 200", twinning)
    assert "treated here instead of abroad: 1" in twinning
    assert "missions completed 1" in cnas and "missions completed 1" in twinning
    # The funder and the supervisor download each report (PDF in French and Arabic, CSV zip) and FHIR export.
    for programme in (cnas, twinning):
        assert re.search(r"report: PDF \d+ KiB \(fr\), \d+ KiB \(ar, right to left\), CSV zip \d+ bytes", programme)
    assert "FHIR Bundle of 4 entries" in cnas and "FHIR Bundle of 4 entries" in twinning  # a Contract, 3 parties
    sent = int(re.search(r"(\d+) notifications sent", out).group(1))
    mails = int(re.search(r"(\d+) e-mails in the local mail catcher", out).group(1))
    assert sent > 0 and mails == sent, "every notification of the programmes went out by e-mail"
    # Day 30: the first day's surgeries followed up before their reminder (cancelled), the others
    # reminded by the notification service (e-mails sent) and followed up after it (issue 21).
    day30 = re.search(r"day-30 reminders: (\d+) sent \((\d+) e-mails\), (\d+) cancelled \(followed up first\); "
                      r"(\d+) follow-ups recorded after their reminder", out)
    assert day30, out[-3000:]
    reminded, emails, cancelled, after = map(int, day30.groups())
    assert reminded > 0 and emails >= reminded and cancelled > 0 and after == reminded
    assert reminded + cancelled == 8 + 4, "every surgery but a death at surgery has a day-30 reminder"
    summary = out.split("== What each convention achieved")[1].split("notifications sent")[0]
    assert not re.search(r"^  (event|mail) ", summary, re.M), "the summary waits until the timeline is quiet"
    assert "Closing channel" not in out + done.stderr, "the timeline's tap stops cleanly"
    assert "Enfant 1" not in out and "Patient Tiaret" not in out, "no patient name on the timeline"
