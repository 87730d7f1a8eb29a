"""``jumelage.db.keyset``: pages that follow one another by an opaque cursor, on SQLite and
PostgreSQL: every row once, in order, whatever is inserted between two pages; a cursor that
is not one the list gave is refused naming ``cursor``."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from jumelage import cursors
from jumelage.db import KEYSET_FIELD, UtcDateTime, create_engine, keyset, offset_or_cursor, read_session_factory
from jumelage.errors import Invalid
from jumelage.testkit.servers import Database

metadata = MetaData()
item = Table("keyset_item", metadata, Column("id", Uuid, primary_key=True), Column("rank", Integer),
             Column("at", UtcDateTime(), nullable=False), Column("grp", String(20)))
COLUMNS = select(item.c.id, item.c.rank, item.c.at)
BY_RANK = keyset(COLUMNS, order_by=("rank", "at", "id"))  # one way: a row-value comparison
NEWEST_FIRST = keyset(COLUMNS, order_by=("at", "id"), descending=("at",))  # mixed: the expanded form
IN_GROUP = keyset(COLUMNS.where(item.c.grp == bindparam("grp")), order_by=("rank", "at", "id"))
T0 = datetime(2030, 6, 11, 9, 0, tzinfo=UTC)


def raw(text: str) -> str:
    """A cursor's encoding of any JSON text (a forged cursor)."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database.url, schema=database.schema)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def rows(n: int, *, grp: str = "x", start: int = 0) -> list[dict[str, Any]]:
    # Few ranks and instants: many ties, so the id decides (the order must still be total).
    return [{"id": uuid.uuid4(), "rank": (start + i) % 3, "at": T0 + timedelta(minutes=(start + i) % 4),
             "grp": grp} for i in range(n)]


async def add(engine: AsyncEngine, new: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(item), new)


async def page(engine: AsyncEngine, pages: Any, limit: int, cursor: str | None,
               **params: Any) -> tuple[list[uuid.UUID], str | None]:
    async with read_session_factory(engine)() as session:
        got, after = await pages.fetch(session, limit=limit, cursor=cursor, **params)
    return [r.id for r in got], after


async def walk(engine: AsyncEngine, pages: Any, limit: int, **params: Any) -> list[uuid.UUID]:
    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        ids, cursor = await page(engine, pages, limit, cursor, **params)
        assert len(ids) <= limit
        seen += ids
        if cursor is None:
            return seen
        assert ids, "a page with a next cursor holds rows"


def ordered(all_rows: list[dict[str, Any]], *keys: str, newest_first: bool = False) -> list[uuid.UUID]:
    if newest_first:
        return [r["id"] for r in sorted(sorted(all_rows, key=lambda r: r["id"]), key=lambda r: r["at"],
                                        reverse=True)]
    return [r["id"] for r in sorted(all_rows, key=lambda r: tuple(r[k] for k in keys))]


async def test_an_empty_list_is_one_empty_page_without_a_next(engine: AsyncEngine) -> None:
    assert await page(engine, BY_RANK, 10, None) == ([], None)


@pytest.mark.parametrize("limit", [1, 3, 7, 23, 24, 200])
async def test_the_pages_hold_every_row_once_in_the_lists_order(engine: AsyncEngine, limit: int) -> None:
    everything = rows(23)
    await add(engine, everything + rows(5, grp="y"))
    by_rank = ordered(everything, "rank", "at", "id")
    assert await walk(engine, IN_GROUP, limit, grp="x") == by_rank
    assert len(await walk(engine, BY_RANK, limit)) == 28
    assert len(set(await walk(engine, NEWEST_FIRST, limit))) == 28


async def test_the_mixed_order_pages_newest_first(engine: AsyncEngine) -> None:
    everything = rows(17)
    await add(engine, everything)
    assert await walk(engine, NEWEST_FIRST, 4) == ordered(everything, newest_first=True)


async def test_a_cursor_holds_its_place_while_rows_come_and_go(engine: AsyncEngine) -> None:
    first = rows(12)
    await add(engine, first)
    ids, cursor = await page(engine, IN_GROUP, 5, None, grp="x")
    assert ids == ordered(first, "rank", "at", "id")[:5]
    # Between two pages: rows that sort before the cursor, and after it.
    last_seen = next(r for r in first if r["id"] == ids[-1])
    before = [{"id": uuid.uuid4(), "rank": -1, "at": T0, "grp": "x"} for _ in range(4)]
    after = [{"id": uuid.uuid4(), "rank": 9, "at": T0, "grp": "x"} for _ in range(3)]
    await add(engine, before + after)
    rest: list[uuid.UUID] = []
    while cursor is not None:
        more, cursor = await page(engine, IN_GROUP, 5, cursor, grp="x")
        rest += more
    assert not set(rest) & {r["id"] for r in before}, "a row inserted before the cursor does not shift the pages"
    assert not set(rest) & set(ids), "no row of a page seen comes again"
    beyond = [r for r in first + after if (r["rank"], r["at"], r["id"]) > (last_seen["rank"], last_seen["at"],
                                                                           last_seen["id"])]
    assert rest == ordered(beyond, "rank", "at", "id"), "every row after the cursor, once, in order"


@pytest.mark.parametrize("cursor", [
    "not base64 at all!", "", "e30", cursors.encode([1, 2]), cursors.encode(["x", T0, uuid.UUID(int=1)]),
    cursors.encode([1, T0.replace(tzinfo=None), uuid.UUID(int=1)]), raw('[["i",1],["t","x"],["u","y"]]'), raw('[["i",true],["t","2030-06-11T09:00:00+00:00"],["u","y"]]'),
    "A" * 600,
], ids=["garbage", "empty", "an-object", "too-short", "wrong-kinds", "naive-instant", "bad-values",
        "a-bool-for-an-int", "too-long"])
async def test_a_cursor_not_given_by_the_list_is_refused_naming_cursor(engine: AsyncEngine, cursor: str) -> None:
    with pytest.raises(Invalid) as refused:
        await page(engine, BY_RANK, 5, cursor)
    assert refused.value.field == KEYSET_FIELD == "query.cursor"
    assert "cursor" in refused.value.message


def test_a_cursor_round_trips_its_key_and_is_url_safe() -> None:
    key = (3, T0, uuid.UUID(int=7), "b", True, T0.date())
    text = cursors.encode(key)
    assert text.replace("-", "").replace("_", "").isalnum()
    assert cursors.decode(text, "itusbd") == key


def test_an_offset_with_a_cursor_is_refused_naming_cursor() -> None:
    offset_or_cursor(0, "abc")
    offset_or_cursor(10, None)
    with pytest.raises(Invalid) as refused:
        offset_or_cursor(10, "abc")
    assert refused.value.field == "query.cursor"
