"""Logging: one JSON object per line naming the service and the correlation
chain, the same for structlog and standard-library loggers; a readable console
format for people."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from jumelage import context
from jumelage.logging import configure_logging, get_logger


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it all back."""
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    names = ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "faststream.access")
    saved = {n: (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate) for n in names}
    saved_structlog = structlog.get_config()
    try:
        yield
    finally:
        root.handlers[:] = saved_root[0]
        root.setLevel(saved_root[1])
        for n, (handlers, propagate) in saved.items():
            logging.getLogger(n).handlers[:] = handlers
            logging.getLogger(n).propagate = propagate
        structlog.configure(**saved_structlog)


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # each line alone is one JSON object


def test_json_line_carries_service_and_correlation(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("convention", "json")
    log = get_logger("test.json")

    with context.chain(correlation="c-1", causation="e-1", event_id="e-1"):
        log.info("institution registered", institution="CMCI Bousmail")
    log.info("outside any chain")

    first, second = json_lines(capsys.readouterr().err)
    assert first["event"] == "institution registered"
    assert first["service"] == "convention"
    assert first["correlation_id"] == "c-1"
    assert first["event_id"] == "e-1"
    assert first["institution"] == "CMCI Bousmail"
    assert first["level"] == "info"
    assert first["logger"] == "test.json"
    assert first["timestamp"].endswith("Z")
    assert second["service"] == "convention"
    assert "correlation_id" not in second and "event_id" not in second, "the chain is unbound on exit"


def test_standard_library_loggers_come_out_as_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("uvicorn.error").addHandler(logging.StreamHandler())  # as uvicorn would
    configure_logging("scheduling", "json")

    with context.chain(correlation="c-2", causation="r-2"):
        logging.getLogger("uvicorn.error").warning("Started server process [%d]", 42)
    logging.getLogger("faststream").info("queue declared")

    (uvicorn_line, faststream_line) = json_lines(capsys.readouterr().err)
    assert uvicorn_line["event"] == "Started server process [42]"
    assert uvicorn_line["service"] == "scheduling"
    assert uvicorn_line["logger"] == "uvicorn.error"
    assert uvicorn_line["level"] == "warning"
    assert uvicorn_line["correlation_id"] == "c-2"
    assert faststream_line["service"] == "scheduling"
    assert faststream_line["logger"] == "faststream"


def test_exceptions_are_rendered_inside_the_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("notification", "json")
    try:
        raise ValueError("smtp refused")
    except ValueError:
        get_logger("test.exc").exception("send failed")

    (line,) = json_lines(capsys.readouterr().err)
    assert line["event"] == "send failed"
    assert line["level"] == "error"
    assert "ValueError: smtp refused" in line["exception"]


def test_level_filters(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("convention", "json", level="warning")
    get_logger("test.level").info("hidden")
    logging.getLogger("uvicorn.access").info("hidden too")
    get_logger("test.level").warning("shown")

    assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["shown"]


def test_console_format_is_readable_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("convention", "console")

    with context.chain(correlation="c-3", causation="e-3", event_id="e-3"):
        get_logger("test.console").info("institution registered", institution="CHU Oran")

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1
    line = lines[0]
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    assert "institution registered" in line
    assert "correlation_id=c-3" in line
    assert "service=convention" in line
    assert "institution='CHU Oran'" in line
    assert "\x1b[" not in line, "no colour codes when stderr is not a terminal"


def test_reconfiguring_replaces_the_handler_instead_of_doubling_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("convention", "json")
    configure_logging("convention", "json")
    logging.getLogger("uvicorn.error").info("once")

    assert len(json_lines(capsys.readouterr().err)) == 1
