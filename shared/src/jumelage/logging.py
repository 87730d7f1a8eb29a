"""structlog set-up: JSON lines in containers, a readable console in a terminal.

Every line carries ``service`` and, when known, ``correlation_id`` and
``event_id`` (bound through contextvars by the HTTP middleware and the consumer).
Standard-library loggers (uvicorn, faststream, alembic) go through the same
renderer, so a container emits one JSON stream.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

LogFormat = Literal["auto", "json", "console"]


def _wants_json(fmt: LogFormat) -> bool:
    if fmt == "auto":
        return not sys.stderr.isatty()
    return fmt == "json"


def configure_logging(service: str, fmt: LogFormat = "auto", level: str = "INFO") -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
    ]
    renderer: structlog.types.Processor
    if _wants_json(fmt):
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = console_renderer(colors=sys.stderr.isatty())

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn and faststream install their own handlers; route them through ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "faststream.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    silence_sensitive_libraries()


def console_renderer(colors: bool = False) -> structlog.dev.ConsoleRenderer:
    """The readable console, its tracebacks plain: structlog's default (rich) prints every
    frame's locals (patients' names, tokens) and takes seconds per exception on an ASGI
    stack, minutes on a loaded machine: a request that fails looked like a hang."""
    return structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=structlog.dev.plain_traceback)


def silence_sensitive_libraries() -> None:
    """These log request URLs or SQL values at debug/info: webhook URLs, patients'
    names, contact details. Whatever our own level, they stay at warnings."""
    for name in ("aiosqlite", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _add_service(service: str) -> structlog.types.Processor:
    # A processor rather than a bound contextvar: tasks started before or outside
    # the configuring context still name their service.
    def add(_logger: object, _name: str, event_dict: dict) -> dict:
        event_dict.setdefault("service", service)
        return event_dict

    return add


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
