"""Identity sealed at rest (jumelage.sealing), on SQLite and PostgreSQL: the stored
text holds no readable name, a value opens only in its own column, keys rotate
without downtime, and a name is still found by its keyed hash."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert, literal, select, text

from jumelage import sealing
from jumelage.db import UnitOfWork, create_engine, session_factory
from jumelage.sealing import SEARCH_HASH, KeyRing, Sealed, SealedDate, SealingError
from jumelage.testkit.servers import Database

# Fixed keys: random ones would name the parametrised tests differently in each xdist worker.
OLD, NEW, SEARCH = (base64.urlsafe_b64encode(bytes([n]) * 32).decode() for n in (1, 2, 3))

metadata = MetaData()
person = Table(
    "person", metadata,
    Column("id", Integer, primary_key=True),
    Column("full_name", Sealed("person.full_name")),
    Column("date_of_birth", SealedDate("person.date_of_birth")),
    Column("guardian", Sealed("person.guardian")),
    Column("name_hash", SEARCH_HASH),
)


@pytest.fixture(autouse=True)
def old_key_only() -> Iterator[None]:
    sealing.install(KeyRing.parse(f"k1:{OLD}", SEARCH))
    yield
    sealing._ring = None


@pytest.fixture
async def sessions(database: Database) -> AsyncIterator[Any]:
    engine = create_engine(database.url, schema=database.schema)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def add(sessions: Any, pid: int, name: str, born: date | None = date(2019, 3, 14)) -> None:
    async with sessions() as s:
        await s.execute(insert(person), {"id": pid, "full_name": name, "date_of_birth": born, "guardian": None,
                                         "name_hash": sealing.ring().search_hash(name)})
        await s.commit()


async def stored(sessions: Any) -> list[tuple[Any, ...]]:
    async with sessions() as s:
        return list((await s.execute(text("SELECT id, full_name, date_of_birth FROM person ORDER BY id"))).all())


async def test_the_stored_text_holds_no_readable_name_and_reads_back_whole(sessions: Any) -> None:
    await add(sessions, 1, "Yasmine Benali")
    (row,) = await stored(sessions)
    assert "Yasmine" not in row[1] and "Benali" not in row[1] and "2019" not in row[2]
    assert row[1].startswith("s1.k1.") and row[2].startswith("s1.k1.")
    async with sessions() as s:
        back = (await s.execute(select(person.c.full_name, person.c.date_of_birth))).one()
    assert tuple(back) == ("Yasmine Benali", date(2019, 3, 14))


async def test_a_sealed_value_moved_to_another_column_does_not_open(sessions: Any) -> None:
    await add(sessions, 1, "Yasmine Benali")
    async with sessions() as s:
        await s.execute(text("UPDATE person SET guardian = full_name"))
        await s.commit()
        with pytest.raises(SealingError, match="person.guardian"):
            await s.scalar(select(person.c.guardian))


async def test_keys_rotate_without_downtime_then_the_old_key_can_go(sessions: Any) -> None:
    await add(sessions, 1, "Yasmine Benali")
    await add(sessions, 2, "Karim Haddad", None)
    async with sessions() as s:  # a row from before sealing: in clear
        await s.execute(insert(person).values(id=3, full_name=literal("Nour Amrani", Text)))
        await s.commit()
    sealing.install(KeyRing.parse(f"k2:{NEW},k1:{OLD}", SEARCH))  # the new key first, the old one kept
    async with sessions() as s:
        assert list(await s.scalars(select(person.c.full_name).order_by(person.c.id))) == [
            "Yasmine Benali", "Karim Haddad", "Nour Amrani"]
    await add(sessions, 4, "Lina Saadi")

    rewritten = await sealing.reseal(lambda: UnitOfWork(sessions), [person], batch=2)

    assert rewritten == 3, "the two rows of k1 and the one in clear; not the one already on k2"
    assert all(r[1].startswith("s1.k2.") and (r[2] is None or r[2].startswith("s1.k2.")) for r in await stored(sessions))
    sealing.install(KeyRing.parse(f"k2:{NEW}", SEARCH))  # k1 dropped
    async with sessions() as s:
        rows = (await s.execute(select(person.c.full_name, person.c.date_of_birth).order_by(person.c.id))).all()
    assert [tuple(r) for r in rows] == [("Yasmine Benali", date(2019, 3, 14)), ("Karim Haddad", None),
                                        ("Nour Amrani", None), ("Lina Saadi", date(2019, 3, 14))]
    assert await sealing.reseal(lambda: UnitOfWork(sessions), [person]) == 0


async def test_a_row_whose_key_is_gone_is_a_clear_error_not_garbage(sessions: Any) -> None:
    await add(sessions, 1, "Yasmine Benali")
    sealing.install(KeyRing.parse(f"k2:{NEW}", SEARCH))
    async with sessions() as s:
        with pytest.raises(SealingError, match="key 'k1'"):
            await s.scalar(select(person.c.full_name))


async def test_a_name_is_found_by_its_keyed_hash_whatever_its_case_accents_or_spaces(sessions: Any) -> None:
    await add(sessions, 1, "Yasmine Bénali")
    await add(sessions, 2, "Yasmine Benalia")
    wanted = sealing.ring().search_hash("  yasmine   BENALI ")
    async with sessions() as s:
        found = list(await s.scalars(select(person.c.id).where(person.c.name_hash == wanted)))
    assert found == [1]
    other = KeyRing.parse(f"k1:{OLD}", KeyRing.new_key())  # a fresh, random search key
    assert other.search_hash("Yasmine Bénali") != wanted, "without the search key the hash tells nothing"


@pytest.mark.parametrize(("keys", "search", "error"), [
    ("", SEARCH, "empty"),
    (f"{OLD}", SEARCH, "expected id:base64key"),
    ("k1:c2hvcnQ=", SEARCH, "32 bytes, not 5"),
    (f"k1:{OLD},k1:{NEW}", SEARCH, "given twice"),
    (f"k1:{OLD}", "c2hvcnQ=", "IDENTITY_SEARCH_KEY must be at least 32 bytes"),
    ("k1:%%%", SEARCH, "not base64"),
])
def test_a_bad_key_ring_names_what_is_wrong(keys: str, search: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        KeyRing.parse(keys, search)
