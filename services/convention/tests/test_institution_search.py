"""The directory's search (``Institutions.search``, one statement built once per filter set):
the same answers as the API tests', on the store alone; a name is matched literally,
its ``%`` and ``_`` included."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from convention.app import MIGRATIONS
from convention.domain.institutions import Institution
from convention.store import ConventionUnitOfWork
from jumelage.db import create_engine, read_session_factory, session_factory
from jumelage.events.convention import InstitutionKind
from jumelage.migrations import migrate
from jumelage.testkit.servers import Database

AT = datetime(2024, 5, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
async def engine(database: Database) -> AsyncIterator[Any]:
    engine = create_engine(database.url, schema=database.schema)
    await migrate(engine, MIGRATIONS)
    yield engine
    await engine.dispose()


async def search(engine: Any, **filters: Any) -> tuple[list[str], int]:
    async with ConventionUnitOfWork(read_session_factory(engine)) as uow:
        found, total = await uow.institutions.search(**filters)
    return [i.name for i in found], total


async def test_search_filters_pages_and_matches_a_name_literally(engine: Any) -> None:
    assert await search(engine) == ([], 0)
    rows = [("CHU Oran", "university_hospital", "DZ", "Oran", "Oran"), ("DSP Oran", "health_directorate", "DZ",
            "Oran", None), ("100% Santé", "clinic", "FR", "Lyon", None), ("Clinique_B", "clinic", "FR", "Paris", None),
            ("Clinique B2", "clinic", "FR", "Paris", None), ("EPH Tiaret", "hospital", "DZ", "Tiaret", "Tiaret")]
    async with ConventionUnitOfWork(session_factory(engine)) as uow:
        for name, kind, country, city, wilaya in rows:
            uow.institutions.add(Institution(id=uuid.uuid4(), name=name, kind=InstitutionKind(kind), country=country,
                                             city=city, wilaya=wilaya, registered_at=AT))
        await uow.commit()

    assert await search(engine) == (sorted(r[0] for r in rows), 6)
    assert await search(engine, name="oran") == (["CHU Oran", "DSP Oran"], 2)
    assert await search(engine, name="%") == (["100% Santé"], 1)  # not every name
    assert await search(engine, name="e_b") == (["Clinique_B"], 1)  # not "Clinique B2"
    assert await search(engine, name="0% s") == (["100% Santé"], 1)
    assert await search(engine, kind="clinic", country="fr", city="PARIS") == (["Clinique B2", "Clinique_B"], 2)
    assert await search(engine, wilaya="tiaret") == (["EPH Tiaret"], 1)
    assert await search(engine, country="DZ", limit=2, offset=1) == (["DSP Oran", "EPH Tiaret"], 3)
    assert await search(engine, country="DZ", limit=2, offset=3) == ([], 3)
    assert await search(engine, city="Constantine") == ([], 0)
    async with ConventionUnitOfWork(read_session_factory(engine)) as uow:
        (first, *_), _ = await uow.institutions.search(name="chu")
    assert first.registered_at == AT and first.kind is InstitutionKind.university_hospital and first.wilaya == "Oran"
