"""A convention's progress read from every fact (as before the counters) and from the counters, one
convention with N completed surgeries each on a day of its own (the worst case for the counters),
on SQLite and on PostgreSQL (POSTGRES_URL, default the loopback server; a schema of its own, dropped).

    .venv/bin/python scripts/bench_progress.py 5000
"""
import asyncio, os, statistics, sys, time, uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo
from sqlalchemy import insert
from convention.app import MIGRATIONS
from convention.store import ConventionUnitOfWork
from convention.store.tables import SurgeryFact, MissionFact
from convention.domain.conventions import Objectives
from convention.domain.progress import progress, progress_of, by_month, by_period
from jumelage.db import create_engine, session_factory
from jumelage.migrations import migrate
Z = ZoneInfo("Africa/Algiers")
PG = os.environ.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

async def main(url, n, schema=None):
    engine = create_engine(url, schema=schema)
    await migrate(engine, MIGRATIONS)
    cid = uuid.uuid4(); missions = [uuid.uuid4() for _ in range(n // 10)]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [dict(surgery_id=uuid.uuid4(), convention_id=cid, mission_id=missions[k // 10], outcome="successful",
                 previously_referred_abroad=k % 3 == 0, completed_at=start + timedelta(hours=7 * k % (3 * 365 * 24)),
                 specialty=None, procedure=None) for k in range(n)]
    async with engine.begin() as c:
        for i in range(0, n, 5000):
            await c.execute(insert(SurgeryFact), rows[i:i + 5000])
    sessions = session_factory(engine)
    uow = ConventionUnitOfWork(sessions)
    async with uow:
        await uow.counters.rebuild(Z, cid); await uow.commit()
    o = Objectives(100)
    async def facts():
        u = ConventionUnitOfWork(sessions)
        async with u:
            f = await u.facts.of(cid); m = await u.facts.moments(cid)
        return progress(o, *f, zone=Z), by_month(m, Z)
    async def counters():
        u = ConventionUnitOfWork(sessions)
        async with u:
            t = await u.counters.summed(cid)
            p = await u.counters.of(cid)
        return progress_of(o, t), by_period(p)
    async def total_only():
        u = ConventionUnitOfWork(sessions)
        async with u:
            t = await u.counters.summed(cid)
        return progress_of(o, t)
    async def total_facts():
        u = ConventionUnitOfWork(sessions)
        async with u:
            f = await u.facts.of(cid)
        return progress(o, *f, zone=Z)
    for name, fn in (("facts", facts), ("counters", counters), ("progress-facts", total_facts), ("progress-counters", total_only)):
        times = []
        for _ in range(15):
            t0 = time.perf_counter(); await fn(); times.append((time.perf_counter() - t0) * 1000)
        print(f"{url.split(':')[0]:10} n={n:6} {name:9} p50 {statistics.median(times):7.1f} ms  min {min(times):7.1f} ms")
    await engine.dispose()

n = int(sys.argv[1])
path = f"/tmp/bench_progress_{uuid.uuid4().hex[:8]}.db"
try:
    asyncio.run(main(f"sqlite+aiosqlite:///{path}", n))
finally:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
import asyncpg
async def pg():
    s = f"h21m_{uuid.uuid4().hex[:8]}"
    c = await asyncpg.connect(PG); await c.execute(f'CREATE SCHEMA "{s}"'); await c.close()
    try:
        await main(PG, n, s)
    finally:
        c = await asyncpg.connect(PG); await c.execute(f'DROP SCHEMA "{s}" CASCADE'); await c.close()
asyncio.run(pg())
