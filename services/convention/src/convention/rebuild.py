"""``python -m convention rebuild-progress [--convention ID]``: the progress counters recomputed
from the facts (after a change of ``TIMEZONE``, or to check them), in one transaction."""

from __future__ import annotations

import asyncio
import uuid

from convention.store import ConventionUnitOfWork
from jumelage.arguments import ArgumentParser
from jumelage.clock import Clock
from jumelage.db import create_engine, session_factory
from jumelage.logging import configure_logging, get_logger
from jumelage.settings import ServiceSettings


def rebuild_progress(settings_class: type[ServiceSettings], argv: list[str]) -> None:
    parser = ArgumentParser(prog="python -m convention rebuild-progress",
                            description="recompute the progress counters from the facts")
    parser.add_argument("--convention", type=uuid.UUID, default=None, help="only this convention (default: all)")
    args = parser.parse_args(argv)
    settings = settings_class()
    configure_logging(settings.service_name, settings.log_format, settings.log_level)
    counted = asyncio.run(rebuild(settings, args.convention))
    get_logger("convention.rebuild").info("progress counters rebuilt", facts=counted,
                                          convention=str(args.convention) if args.convention else "all")


async def rebuild(settings: ServiceSettings, convention_id: uuid.UUID | None = None) -> int:
    """The counters of ``convention_id`` (None: every convention) rebuilt; the facts counted."""
    engine = create_engine(settings.sqlalchemy_url(), schema=settings.database_schema)
    try:
        uow = ConventionUnitOfWork(session_factory(engine))
        async with uow:
            counted = await uow.counters.rebuild(Clock.from_settings(settings).zone, convention_id)
            await uow.commit()
        return counted
    finally:
        await engine.dispose()
