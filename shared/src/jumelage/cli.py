"""The one entrypoint every service shares: ``python -m <service> serve|migrate|asyncapi``."""

from __future__ import annotations

import asyncio
import json
import gc
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from jumelage.arguments import ArgumentParser
from jumelage.db import create_engine
from jumelage.logging import configure_logging, get_logger
from jumelage.migrations import migrate
from jumelage.settings import ServiceSettings


def main(
    settings_class: type[ServiceSettings],
    build_runtime: Callable[[ServiceSettings], object],
    create_app: Callable[[ServiceSettings], object],
    migrations: Path | None,
    argv: list[str] | None = None,
) -> None:
    parser = ArgumentParser(prog=f"python -m {settings_class().service_name}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP API, the event subscriber and the outbox relay")
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser("asyncapi", help="print the AsyncAPI document (the catalogue) generated from the code")
    args = parser.parse_args(argv)

    settings = settings_class()
    configure_logging(settings.service_name, settings.log_format, settings.log_level)
    log = get_logger("jumelage.cli")

    if args.command == "asyncapi":
        runtime = build_runtime(settings)
        if hasattr(runtime, "catalogue"):  # a service: the catalogue it serves at /asyncapi.json
            sys.stdout.write(json.dumps(runtime.catalogue(), ensure_ascii=False) + "\n")
        else:  # the web app: FastStream's document of its live subscriber
            sys.stdout.write(runtime.specification().to_json() + "\n")  # type: ignore[attr-defined]
        return
    if migrations is None:  # a process that owns no database (the web app)
        if args.command == "migrate":
            log.info("nothing to migrate: this process owns no database")
            return
    elif args.command == "migrate" or settings.migrate_on_start:
        asyncio.run(_migrate(settings, migrations))
        log.info("database migrated", database=settings.sqlalchemy_url().split("@")[-1])
        if args.command == "migrate":
            return
    app = create_app(settings)
    tune_garbage_collector()
    uvicorn.run(
        app,  # type: ignore[arg-type]
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # keep our structlog handlers
        access_log=False,
    )


# Young objects allocated (net) before the collector runs; CPython's default is 700.
YOUNG_GENERATION_THRESHOLD = 10_000


def tune_garbage_collector() -> None:
    """Once the service is built: what start-up made (modules, mappers, models,
    routes) is frozen out of the collector's sight, and the youngest generation
    is collected after 10,000 net allocations rather than 700. At 700 the objects
    of the 32 events in flight crossed the threshold all the time: each
    collection scanned them and moved them on to older generations, whose
    collections then scanned the whole heap. Measured on ``scripts/bench.py``
    (d2): the collector took about 11 % of the consumer's time, under 0.1 %
    after this. Most objects are freed by reference counting anyway; garbage
    with cycles waits for at most 10,000 allocations."""
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 10, 10)


async def _migrate(settings: ServiceSettings, migrations: Path) -> None:
    from jumelage import sealing

    sealing.install_from(settings)  # a migration seals the identity rows it finds in clear
    engine = create_engine(settings.sqlalchemy_url(), schema=settings.database_schema)
    try:
        await migrate(engine, migrations)
    finally:
        await engine.dispose()
