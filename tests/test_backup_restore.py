"""A running service backed up while events flow, restored into a fresh database
and started again (issue 24): nothing lost or doubled, recovery point and time measured.

The convention service registers institutions without pause; the scheduling
service keeps their replica from the events. Midway the convention service's
database is backed up (SQLite's online backup; pg_dump on PostgreSQL), while the
writes go on. Then the service stops, its database is replaced by a fresh one
from the backup, and it starts again:

- every institution acknowledged before the backup began is in the restored
  database; those acknowledged after it are the recovery point's loss, and their
  events had reached the subscribers before the stop;
- every event the restored outbox holds is published again where it was pending
  in the copy, and the scheduling service has each institution exactly once;
- the restored service takes new writes, whose events arrive.

``-s`` prints the figures (the README's security section quotes them)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import convention.app
import scheduling.app
from scheduling.store.tables import INSTITUTIONS
from jumelage.backup import sqlite_online_backup
from jumelage.api import MAX_PAGE_SIZE
from jumelage.messaging.tables import InboxRecord, OutboxRecord
from jumelage.testkit.client import ActingAs
from jumelage.testkit.servers import Database, execute
from jumelage.testkit.services import outbox_drained, running, service_settings
from jumelage.testkit.waiting import eventually

pytestmark = pytest.mark.system  # pg_dump and pg_restore are processes


async def listed(client: Any) -> set[str]:
    ids: set[str] = set()
    while True:
        page = (await client.get("/institutions", params={"limit": MAX_PAGE_SIZE, "offset": len(ids)})).json()
        ids |= {i["id"] for i in page["items"]}
        if len(ids) >= page["total"]:
            return ids


def institution(n: int) -> dict[str, Any]:
    return {"name": f"Hôpital {n} {uuid.uuid4().hex[:6]}", "kind": "hospital", "country": "DZ", "city": "Tiaret"}


@contextlib.asynccontextmanager
async def service(module: Any, db: Database, amqp_url: str, namespace: str):
    settings = service_settings(module.Settings, amqp_url=amqp_url, namespace=namespace, database=db)
    async with running(module.create_app(settings), module.MIGRATIONS, acting_as=ActingAs("administrator")) as c:
        yield c


async def backup(db: Database, into: Path) -> None:
    if db.kind == "sqlite":
        await asyncio.to_thread(sqlite_online_backup, Path(db.url.split("///", 1)[1]), into)
        return
    done = await asyncio.to_thread(subprocess.run, [
        "pg_dump", "--format=custom", f"--schema={db.schema}", f"--file={into}", db.url.replace("+asyncpg", "")],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


async def restore(db: Database, backup_file: Path) -> None:
    """The service's database replaced by a fresh one made from the backup."""
    if db.kind == "sqlite":
        path = Path(db.url.split("///", 1)[1])
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        shutil.copyfile(backup_file, path)
        return
    await execute(db.url, f'DROP SCHEMA "{db.schema}" CASCADE')
    done = await asyncio.to_thread(subprocess.run, [
        "pg_restore", "--exit-on-error", f"--dbname={db.url.replace('+asyncpg', '')}", str(backup_file)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


async def test_a_service_restored_from_a_backup_taken_while_events_flow_loses_and_doubles_nothing(
    amqp_url: str, namespace: str, database: Database, tmp_path: Path
) -> None:
    conv_db, sched_db = await database.for_service("convention"), await database.for_service("scheduling")
    acked: list[tuple[float, str]] = []  # (when the 201 came, institution id)
    stop = asyncio.Event()

    async def register(client: Any) -> None:
        n = 0
        while not stop.is_set():
            r = await client.post("/institutions", json=institution(n))
            assert r.status_code == 201, r.text
            acked.append((time.monotonic(), r.json()["id"]))
            n += 1

    backup_file = tmp_path / "convention.backup"
    async with service(scheduling.app, sched_db, amqp_url, namespace) as sched:
        async with service(convention.app, conv_db, amqp_url, namespace) as conv:
            writer = asyncio.create_task(register(conv))
            await eventually(lambda: len(acked) >= 20)
            began = time.monotonic()
            await backup(conv_db, backup_file)
            ended = time.monotonic()
            await eventually(lambda: any(t > ended for t, _ in acked) and len(acked) >= 40)
            stop.set()
            await writer
            await outbox_drained(conv.runtime)
        before = {i for t, i in acked if t < began}
        after = {i for t, i in acked if t > ended}
        assert before and after

        restore_started = time.monotonic()
        await restore(conv_db, backup_file)
        async with service(convention.app, conv_db, amqp_url, namespace) as conv:
            ready = time.monotonic()
            restored = await listed(conv)
            assert before <= restored, "an institution acknowledged before the backup is missing"
            assert not (after & restored), "the copy holds what came after it"
            async with conv.runtime.sessions() as s:
                held = await s.scalar(select(func.count()).select_from(OutboxRecord))
            assert held == len(restored), "one event per institution in the restored outbox"
            await outbox_drained(conv.runtime)  # what was pending in the copy is published again

            fresh = await conv.post("/institutions", json=institution(10_000))
            assert fresh.status_code == 201, fresh.text
            everything = {i for _, i in acked} | {fresh.json()["id"]}

            async def replica() -> bool:
                async with sched.runtime.sessions() as s:
                    return {str(i) for i in await s.scalars(select(INSTITUTIONS.c.id))} == everything

            await eventually(replica)
            async with sched.runtime.sessions() as s:
                handled = list(await s.scalars(select(InboxRecord.event_id)))
            assert len(handled) == len(set(handled)) == len(everything), \
                "each institution's event handled once, its copy published again after the restore dropped"

    print(f"\n[{database.kind}] backup of {len(before)}+ institutions while writing: {ended - began:.3f} s; "
          f"lost at the recovery point: the {len(after)} acknowledged after it (their events had reached the "
          f"subscribers); restore to ready: {ready - restore_started:.3f} s")
