from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jumelage.settings import ServiceSettings, async_driver_url


def test_local_defaults_need_no_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AMQP_URL", "DATABASE_URL", "LOG_FORMAT", "RETRY_DELAYS"):
        monkeypatch.delenv(name, raising=False)
    s = ServiceSettings(service_name="convention", data_dir=tmp_path / "data")
    assert s.amqp_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert s.sqlalchemy_url() == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'convention.db'}"
    assert (tmp_path / "data").is_dir()
    assert s.queue_type == "quorum"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://convention:pw@db:5432/convention")
    monkeypatch.setenv("RETRY_DELAYS", "0.5, 2,10")
    assert ServiceSettings(retry_delays="[1, 3]").retry_delays == [1.0, 3.0]
    monkeypatch.setenv("LOG_FORMAT", "json")
    s = ServiceSettings(service_name="convention")
    assert s.sqlalchemy_url() == "postgresql+asyncpg://convention:pw@db:5432/convention"
    assert s.retry_delays == [0.5, 2.0, 10.0]
    assert s.log_format == "json"


def test_bad_setting_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        ServiceSettings()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+psycopg2://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_urls_get_the_async_driver(given: str, expected: str) -> None:
    assert async_driver_url(given) == expected


@pytest.mark.system  # starts a process
def test_secrets_come_from_mounted_files(tmp_path: Path) -> None:
    (tmp_path / "amqp_url").write_text("amqp://convention:from-a-file@rabbitmq:5672/")
    code = "from jumelage.settings import ServiceSettings; print(ServiceSettings().amqp_url)"
    env = {"SECRETS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "amqp://convention:from-a-file@rabbitmq:5672/"


def test_a_scenario_file_moves_every_clock_at_once(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime

    from jumelage.clock import Clock, write_scenario_instant

    story = tmp_path / "clock"
    write_scenario_instant(story, "2024-05-25T23:30:00Z")
    settings = ServiceSettings(scenario_clock_file=story, timezone="Africa/Algiers")
    first, second = Clock.from_settings(settings), Clock.from_settings(settings)
    assert first.now() == datetime(2024, 5, 25, 23, 30, tzinfo=UTC)
    assert first.today() == date(2024, 5, 26), "already the 26th in Algiers"
    write_scenario_instant(story, datetime(2024, 5, 31, 8, tzinfo=UTC))
    assert first.now() == second.now() == datetime(2024, 5, 31, 8, tzinfo=UTC)
    with pytest.raises(ValueError):
        write_scenario_instant(story, "")  # what no reader could read is not written
    assert first.now() == datetime(2024, 5, 31, 8, tzinfo=UTC)
    assert [p.name for p in tmp_path.iterdir()] == ["clock"], "no temporary file left behind"


def test_a_scenario_clock_read_while_it_is_rewritten_never_sees_a_partial_file(tmp_path: Path) -> None:
    import threading
    from datetime import UTC, datetime, timedelta

    from jumelage.clock import Clock, write_scenario_instant

    story = tmp_path / "clock"
    instants = [datetime(2024, 5, 20, 8, tzinfo=UTC) + timedelta(days=d) for d in range(11)]
    write_scenario_instant(story, instants[0])
    clock = Clock(scenario_file=story)
    done = threading.Event()

    def tell_the_story() -> None:
        for i in range(3000):
            write_scenario_instant(story, instants[i % len(instants)])
        done.set()

    writer = threading.Thread(target=tell_the_story)
    writer.start()
    raw, seen = set(), set()
    while not done.is_set():
        raw.add(story.read_text())  # what any reader, ours or not, finds in the file
        seen.add(clock.now())
    writer.join()
    assert raw <= {i.isoformat() + "\n" for i in instants}, "only whole instants, never '' or half of one"
    assert seen <= set(instants)


def test_an_unreadable_scenario_file_keeps_the_last_instant_and_warns_once(tmp_path: Path) -> None:
    import os
    from datetime import UTC, datetime

    import structlog

    from jumelage.clock import Clock

    story = tmp_path / "clock"
    story.write_text("2024-05-26T07:00:00Z")
    clock = Clock(scenario_file=story)
    assert clock.now() == datetime(2024, 5, 26, 7, tzinfo=UTC)
    with structlog.testing.capture_logs() as logs:
        for broken in ("", "2024-05-2", "not a date"):  # as a writer caught mid-write leaves it
            story.write_text(broken)
            os.utime(story, ns=(len(broken), len(broken)))  # a new version each time, whatever the file system
            assert clock.now() == datetime(2024, 5, 26, 7, tzinfo=UTC)
        story.unlink()
        assert clock.now() == datetime(2024, 5, 26, 7, tzinfo=UTC)
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [w["event"] for w in warnings] == ["scenario clock file unreadable, keeping the last instant read"]
    story.write_text("2024-05-31T08:00:00Z")
    assert clock.now() == datetime(2024, 5, 31, 8, tzinfo=UTC), "the story moves on once the file is whole"
    # Never read at all: the real time, rather than an error for whoever asked.
    assert abs(Clock(scenario_file=tmp_path / "missing").now() - datetime.now(UTC)).total_seconds() < 60
