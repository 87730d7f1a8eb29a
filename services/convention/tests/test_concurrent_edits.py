"""Concurrent edits of a convention over HTTP, on SQLite and PostgreSQL: every read
gives an ETag, every change takes If-Match, and two coordinators editing one
draft cannot overwrite each other; the migration adds the version and goes
down and up again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

import convention.app
from convention.store.tables import ConventionRow, PartyRow, Table
from jumelage.clock import FixedClock
from jumelage.db import create_engine, session_factory
from jumelage.migrations import migrate
from jumelage.testkit.schema import assert_migrated_as_mapped, downgrade, table_columns
from jumelage.testkit.servers import Database
from jumelage.testkit.services import running, service_settings

NOW = datetime(2024, 5, 20, 9, 0, tzinfo=UTC)


class Desk:
    """The convention service with the reference institutions; the provider's coordinator calls."""

    def __init__(self, client: httpx.AsyncClient, clock: FixedClock) -> None:
        self.client, self.clock = client, clock
        self.ids: dict[str, str] = {}

    async def institution(self, key: str, name: str, kind: str, country: str, city: str) -> None:
        with self.client.auth.acting("administrator"):
            r = await self.client.post("/institutions", json={"name": name, "kind": kind, "country": country,
                                                              "city": city})
        assert r.status_code == 201, r.text
        self.ids[key] = r.json()["id"]

    async def draft(self) -> dict[str, Any]:
        r = await self.client.post("/conventions", json={
            "reference": "CNAS-GSD-2024-01", "title": "Chirurgie cardiaque pédiatrique au CMCI Bousmail",
            "kind": "international_cooperation",
            "parties": [{"institution_id": self.ids["gsd"], "role": "provider"},
                        {"institution_id": self.ids["cmci"], "role": "beneficiary"}],
            "effective_from": "2024-05-20", "effective_until": "2025-05-19",
            "specialties": ["paediatric cardiac surgery"], "objectives": {"surgeries": 100},
        })
        assert r.status_code == 201, r.text
        assert r.headers["etag"] == '"1"' and r.json()["version"] == 1
        return r.json()

    def coordinator_of(self, key: str) -> Any:
        return self.client.auth.acting("coordinator", institution=self.ids[key])


@pytest.fixture
async def desk(amqp_url: str, namespace: str, database: Database) -> AsyncIterator[Desk]:
    settings = service_settings(convention.app.Settings, amqp_url=amqp_url, namespace=namespace,
                                database=await database.for_service("convention"), expiry_check_interval=3600)
    clock = FixedClock(NOW, "Africa/Algiers")
    async with running(convention.app.create_app(settings, clock), convention.app.MIGRATIONS) as client:
        d = Desk(client, clock)
        await d.institution("gsd", "Gruppo San Donato", "hospital_group", "IT", "Milano")
        await d.institution("cmci", "CMCI Bousmail", "clinic", "DZ", "Bou Ismail")
        client.auth.set("coordinator", institution=d.ids["gsd"])
        yield d


async def test_two_coordinators_editing_one_draft_cannot_overwrite_each_other(desk: Desk) -> None:
    client, cid = desk.client, (await desk.draft())["id"]
    # The provider's and the beneficiary's coordinators both open the draft.
    with desk.coordinator_of("gsd"):
        first = await client.get(f"/conventions/{cid}")
    with desk.coordinator_of("cmci"):
        second = await client.get(f"/conventions/{cid}")
    assert first.headers["etag"] == second.headers["etag"] == '"1"'
    read = first.headers["etag"]

    desk.clock.advance(minutes=7)
    with desk.coordinator_of("gsd"):
        r = await client.patch(f"/conventions/{cid}", json={"title": "Chirurgie cardiaque de l'enfant"},
                               headers={"If-Match": read})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert r.headers["etag"] == '"2"' == f'"{changed["version"]}"'
    assert changed["updated_at"] == "2024-05-20T09:07:00Z"  # the service's clock

    desk.clock.advance(minutes=3)
    with desk.coordinator_of("cmci"):
        r = await client.patch(f"/conventions/{cid}", json={"title": "Cardiochirurgie pédiatrique"},
                               headers={"If-Match": read})
    assert r.status_code == 412, r.text
    refusal = r.json()
    assert refusal["record"] == "convention CNAS-GSD-2024-01"
    assert refusal["updated_at"] == "2024-05-20T09:07:00Z" and refusal["etag"] == '"2"'
    assert "has changed since you read it" in refusal["detail"] and "2024-05-20T09:07:00" in refusal["detail"]
    assert r.headers["etag"] == '"2"'

    # The first coordinator's change holds; the second sends theirs again on top of it.
    r = await client.get(f"/conventions/{cid}")
    assert r.json()["title"] == "Chirurgie cardiaque de l'enfant" and r.headers["etag"] == '"2"'
    with desk.coordinator_of("cmci"):
        r = await client.patch(f"/conventions/{cid}", json={"objectives": {"consultations": 300}},
                               headers={"If-Match": r.headers["etag"]})
    assert r.status_code == 200 and r.headers["etag"] == '"3"', r.text
    assert r.json()["title"] == "Chirurgie cardiaque de l'enfant" and r.json()["objectives"]["consultations"] == 300


async def test_the_same_if_match_sent_twice_at_once_lets_one_through(desk: Desk) -> None:
    """The check is made on the row the change locks, in its transaction: no window between them."""
    client, cid = desk.client, (await desk.draft())["id"]
    results = await asyncio.gather(*(
        client.patch(f"/conventions/{cid}", json={"title": title}, headers={"If-Match": '"1"'})
        for title in ("Titre A", "Titre B", "Titre C")))
    assert sorted(r.status_code for r in results) == [200, 412, 412], [r.text for r in results]
    (won,) = [r for r in results if r.status_code == 200]
    r = await client.get(f"/conventions/{cid}")
    assert r.json()["title"] == won.json()["title"] and r.headers["etag"] == '"2"'


async def test_if_match_forms_and_every_change_route(desk: Desk) -> None:
    client, cid = desk.client, (await desk.draft())["id"]
    url = f"/conventions/{cid}"

    # No If-Match: changed as before, and the version still moves.
    r = await client.patch(url, json={"title": "Sans précondition"})
    assert r.status_code == 200 and r.headers["etag"] == '"2"', r.text
    # A change that changes nothing keeps the version.
    r = await client.patch(url, json={"title": "Sans précondition"}, headers={"If-Match": '"2"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"', r.text
    # "*" matches any version; a list matches if one of its tags does; a weak tag never does (strong comparison).
    r = await client.patch(url, json={"title": "Étoile"}, headers={"If-Match": "*"})
    assert r.status_code == 200 and r.headers["etag"] == '"3"', r.text
    r = await client.patch(url, json={"title": "Liste"}, headers={"If-Match": '"1", "3"'})
    assert r.status_code == 200 and r.headers["etag"] == '"4"', r.text
    r = await client.patch(url, json={"title": "Faible"}, headers={"If-Match": 'W/"4"'})
    assert r.status_code == 412 and r.json()["etag"] == '"4"', r.text
    # Malformed: a 422 naming the header, nothing changed.
    for bad in ("4", '"4', "*, \"4\"", ""):
        r = await client.patch(url, json={"title": "Mal formé"}, headers={"If-Match": bad})
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["loc"] == ["header", "If-Match"], r.text
    assert (await client.get(url)).json()["title"] == "Liste"

    # Signing with a stale ETag is refused and leaves the draft a draft; with the current one it signs.
    sign = {"signed_on": "2024-05-20", "signed_at": "Alger"}
    r = await client.post(f"{url}/sign", json=sign, headers={"If-Match": '"3"'})
    assert r.status_code == 412 and (await client.get(url)).json()["status"] == "draft", r.text
    r = await client.post(f"{url}/sign", json=sign, headers={"If-Match": '"4"'})
    assert r.status_code == 200 and r.json()["status"] == "signed" and r.headers["etag"] == '"5"', r.text
    for action, body in [("suspend", {"reason": "audit"}), ("resume", {"reason": "audit done"})]:
        r = await client.post(f"{url}/{action}", json=body, headers={"If-Match": '"4"'})
        assert r.status_code == 412, r.text
        r = await client.post(f"{url}/{action}", json=body, headers={"If-Match": r.json()["etag"]})
        assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"7"'
    # An amendment changes the convention: a stale ETag is refused, and the GET shows the new one.
    amendment = {"signed_on": "2024-06-01", "summary": "Plus de chirurgies", "changes": {"objectives": {"surgeries": 120}}}
    r = await client.post(f"{url}/amendments", json=amendment, headers={"If-Match": '"6"'})
    assert r.status_code == 412, r.text
    r = await client.post(f"{url}/amendments", json=amendment, headers={"If-Match": '"7"'})
    assert r.status_code == 201, r.text
    assert (await client.get(url)).headers["etag"] == '"8"'
    r = await client.post(f"{url}/terminate", json={"on": "2024-12-31", "reason": "fin"}, headers={"If-Match": '"7"'})
    assert r.status_code == 412 and (await client.get(url)).json()["status"] == "signed", r.text
    r = await client.post(f"{url}/terminate", json={"on": "2024-12-31", "reason": "fin"}, headers={"If-Match": '"8"'})
    assert r.status_code == 200 and r.headers["etag"] == '"9"', r.text

    # Listed conventions carry their version too.
    (item,) = (await client.get("/conventions")).json()["items"]
    assert item["version"] == 9


async def test_a_draft_is_discarded_only_at_the_version_read(desk: Desk) -> None:
    client, cid = desk.client, (await desk.draft())["id"]
    await client.patch(f"/conventions/{cid}", json={"title": "Changé entre-temps"})
    r = await client.delete(f"/conventions/{cid}", headers={"If-Match": '"1"'})
    assert r.status_code == 412 and r.json()["etag"] == '"2"', r.text
    assert (await client.get(f"/conventions/{cid}")).status_code == 200
    r = await client.delete(f"/conventions/{cid}", headers={"If-Match": '"2"'})
    assert r.status_code == 204, r.text
    assert (await client.get(f"/conventions/{cid}")).status_code == 404


async def test_a_convention_read_in_another_transaction_is_not_saved_over_a_later_change(desk: Desk) -> None:
    """The store refuses to write a convention read before someone else changed it
    (StaleDataError: the API answers 409), rather than silently overwrite."""
    client, cid = desk.client, (await desk.draft())["id"]
    runtime = client.runtime  # type: ignore[attr-defined]
    async with runtime.unit_of_work() as uow:
        stale = await uow.conventions.get(uuid.UUID(cid))
    await client.patch(f"/conventions/{cid}", json={"title": "Changé entre-temps"})
    stale.edit_draft({"title": "Écrase"}, stale.terms.party_ids())
    with pytest.raises(StaleDataError):
        async with runtime.unit_of_work() as uow:
            await uow.conventions.save(stale, runtime.clock.now())  # when it changed: the service clock
    assert (await client.get(f"/conventions/{cid}")).json()["title"] == "Changé entre-temps"


async def test_the_openapi_documents_if_match_etag_and_the_412(desk: Desk) -> None:
    spec = (await desk.client.get("/openapi.json")).json()
    patch = spec["paths"]["/conventions/{convention_id}"]["patch"]
    header = next(p for p in patch["parameters"] if p["name"] == "If-Match")
    assert (header["in"], header["required"]) == ("header", False)
    assert "412" in patch["responses"] and "ETag" in patch["responses"]["200"]["headers"]
    assert "ETag" in spec["paths"]["/conventions/{convention_id}"]["get"]["responses"]["200"]["headers"]
    for action in ("sign", "suspend", "resume", "terminate", "amendments"):
        operation = spec["paths"][f"/conventions/{{convention_id}}/{action}"]["post"]
        assert "412" in operation["responses"] and any(p["name"] == "If-Match" for p in operation["parameters"])
    assert "412" in spec["paths"]["/conventions/{convention_id}"]["delete"]["responses"]


async def test_migrations_match_the_mapped_tables_and_go_down_and_up(database: Database) -> None:
    own = await database.for_service("convention")
    engine = create_engine(own.url, schema=own.schema)
    script = convention.app.MIGRATIONS
    try:
        await migrate(engine, script)
        await assert_migrated_as_mapped(engine, Table.metadata)
        await downgrade(engine, script, "0004")
        assert not {"version", "updated_at"} & (await table_columns(engine))["convention"]
        # A convention from before, with a party (whose foreign key names it), is at version 1,
        # last changed when it was created.
        created = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
        cid = uuid.uuid4()
        async with engine.begin() as conn:  # the mapped tables, less the columns 0005 adds
            await conn.execute(sa.insert(ConventionRow.__table__).values(
                id=cid, reference="OLD-1", title="Ancienne", kind="twinning", effective_from=date(2024, 1, 1),
                effective_until=date(2024, 12, 31), objective_surgeries=1, objective_consultations=0,
                objective_training_sessions=0, cost_bearers=[], status="draft", created_at=created))
            await conn.execute(sa.insert(PartyRow.__table__).values(convention_id=cid, institution_id=uuid.uuid4(),
                                                                    role="provider", position=0))
        await migrate(engine, script)
        assert {"version", "updated_at"} <= (await table_columns(engine))["convention"]
        async with session_factory(engine)() as session:
            row = await session.get(ConventionRow, cid)
            assert row is not None and (row.version, row.updated_at) == (1, created)
        await downgrade(engine, script, "0004")  # with the party still there
        assert "version" not in (await table_columns(engine))["convention"]
    finally:
        await engine.dispose()
