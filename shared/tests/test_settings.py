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


def test_secrets_come_from_mounted_files(tmp_path: Path) -> None:
    (tmp_path / "amqp_url").write_text("amqp://convention:from-a-file@rabbitmq:5672/")
    code = "from jumelage.settings import ServiceSettings; print(ServiceSettings().amqp_url)"
    env = {"SECRETS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "amqp://convention:from-a-file@rabbitmq:5672/"


def test_a_scenario_file_moves_every_clock_at_once(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime

    from jumelage.clock import Clock

    story = tmp_path / "clock"
    story.write_text("2024-05-25T23:30:00Z")
    settings = ServiceSettings(scenario_clock_file=story, timezone="Africa/Algiers")
    first, second = Clock.from_settings(settings), Clock.from_settings(settings)
    assert first.now() == datetime(2024, 5, 25, 23, 30, tzinfo=UTC)
    assert first.today() == date(2024, 5, 26), "already the 26th in Algiers"
    story.write_text("2024-05-31T08:00:00+00:00")
    import os

    os.utime(story, (1, 1))  # a new mtime, as a later write has
    assert first.now() == second.now() == datetime(2024, 5, 31, 8, tzinfo=UTC)
