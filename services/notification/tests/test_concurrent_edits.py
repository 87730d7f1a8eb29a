"""Concurrent edits of a contact over HTTP, on SQLite and PostgreSQL: every read
gives an ETag, every change takes If-Match, a stale one is a 412 that says when
the contact changed, and the first change holds. The migration gives contacts
from before version 1."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

import notification.app
from jumelage.clock import FixedClock
from jumelage.db import create_engine, session_factory
from jumelage.migrations import migrate
from jumelage.testkit.schema import downgrade, table_columns
from jumelage.testkit.servers import Database
from notification.store.tables import ContactRow, SubscriptionRow

NOW = datetime(2031, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW, "Africa/Algiers")


@pytest.fixture
async def h(notification_service: Any, clock: FixedClock) -> Any:
    async with notification_service(clock=clock) as harness:
        yield harness


async def test_two_people_changing_one_contact(h: Any, clock: FixedClock) -> None:
    contact = await h.contact(kind="institution", institution_id=str(uuid.uuid4()), email="direction@cmci.dz")
    url = f"/contacts/{contact['id']}"
    first, second = (await h.client.get(url)), (await h.client.get(url))
    assert first.headers["etag"] == second.headers["etag"] == '"1"' == f'"{contact["version"]}"'

    clock.advance(minutes=4)
    r = await h.client.patch(url, json={"email": "secretariat@cmci.dz"}, headers={"If-Match": first.headers["etag"]})
    assert r.status_code == 200 and r.headers["etag"] == '"2"', r.text
    assert r.json()["updated_at"] == "2031-03-02T10:04:00Z"  # the service's clock
    r = await h.client.patch(url, json={"email": "accueil@cmci.dz", "language": "ar"},
                             headers={"If-Match": second.headers["etag"]})
    assert r.status_code == 412, r.text
    assert (r.json()["record"], r.json()["etag"]) == (f"contact {contact['id']}", '"2"')
    assert r.json()["updated_at"] == "2031-03-02T10:04:00Z" and "has changed since you read it" in r.json()["detail"]
    now = (await h.client.get(url)).json()
    assert (now["email"], now["language"]) == ("secretariat@cmci.dz", "fr"), "the first change holds"

    # "*" matches any version; a change that changes nothing keeps it; without If-Match, as before.
    r = await h.client.patch(url, json={"language": "en"}, headers={"If-Match": "*"})
    assert r.status_code == 200 and r.headers["etag"] == '"3"', r.text
    r = await h.client.patch(url, json={"language": "en"}, headers={"If-Match": '"3"'})
    assert r.status_code == 200 and r.headers["etag"] == '"3"', r.text
    r = await h.client.patch(url, json={"display_name": "Direction"})
    assert r.status_code == 200 and r.headers["etag"] == '"4"', r.text
    r = await h.client.patch(url, json={"display_name": "x"}, headers={"If-Match": "4"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["header", "If-Match"], r.text
    listed = (await h.client.get("/contacts")).json()["items"]
    assert [c["version"] for c in listed] == [4]

    # Forgetting it: only at the version read.
    r = await h.client.delete(url, headers={"If-Match": '"3"'})
    assert r.status_code == 412 and (await h.client.get(url)).status_code == 200, r.text
    r = await h.client.delete(url, headers={"If-Match": '"4"'})
    assert r.status_code == 204 and (await h.client.get(url)).status_code == 404, r.text


async def test_a_familys_consent_at_the_version_read(h: Any) -> None:
    family = await h.family("P-2031-0042", consent=False, phone="+213555123456")
    url = f"/contacts/{family['id']}"
    read = (await h.client.get(url)).headers["etag"]
    r = await h.client.post(f"{url}/consent", json={"given_by": "la mère"}, headers={"If-Match": read})
    assert r.status_code == 200 and r.headers["etag"] == '"2"' and r.json()["consent"], r.text
    r = await h.client.delete(f"{url}/consent", headers={"If-Match": read})
    assert r.status_code == 412 and (await h.client.get(url)).json()["consent"], r.text
    r = await h.client.delete(f"{url}/consent", headers={"If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["consent"] is None and r.headers["etag"] == '"3"', r.text


async def test_the_same_if_match_sent_twice_at_once_lets_one_through(h: Any) -> None:
    contact = await h.contact(kind="institution", institution_id=str(uuid.uuid4()), email="direction@cmci.dz")
    url = f"/contacts/{contact['id']}"
    results = await asyncio.gather(*(h.client.patch(url, json={"display_name": name}, headers={"If-Match": '"1"'})
                                     for name in ("A", "B", "C")))
    assert sorted(r.status_code for r in results) == [200, 412, 412], [r.text for r in results]
    (won,) = [r for r in results if r.status_code == 200]
    assert (await h.client.get(url)).json()["display_name"] == won.json()["display_name"]


async def test_the_openapi_documents_if_match_etag_and_the_412(h: Any) -> None:
    spec = (await h.client.get("/openapi.json")).json()["paths"]
    for path, method in [("/contacts/{contact_id}", "patch"), ("/contacts/{contact_id}", "delete"),
                         ("/contacts/{contact_id}/consent", "post"), ("/contacts/{contact_id}/consent", "delete")]:
        operation = spec[path][method]
        assert any(p["name"] == "If-Match" and p["in"] == "header" for p in operation["parameters"]), (path, method)
        assert "412" in operation["responses"], (path, method)
    assert "ETag" in spec["/contacts/{contact_id}"]["get"]["responses"]["200"]["headers"]


async def test_migration_gives_the_contacts_from_before_version_1(database: Database) -> None:
    own = await database.for_service("notification")
    engine = create_engine(own.url, schema=own.schema)
    script = notification.app.MIGRATIONS
    contact_id, created = uuid.uuid4(), datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    try:
        await migrate(engine, script, "0005")
        async with engine.begin() as conn:  # the mapped tables, less the column 0006 adds
            await conn.execute(sa.insert(ContactRow.__table__).values(
                id=contact_id, kind="institution", subject_ref=str(uuid.uuid4()), email="a@b.dz", language="fr",
                created_at=created, updated_at=created))
            await conn.execute(sa.insert(SubscriptionRow.__table__).values(
                id=uuid.uuid4(), contact_id=contact_id, event_type="MissionScheduled", scope="everywhere",
                opt_out=False, created_at=created))
        await migrate(engine, script)
        async with session_factory(engine)() as session:
            row = await session.get(ContactRow, contact_id)
            assert row is not None and (row.version, row.updated_at) == (1, created)
        await downgrade(engine, script, "0005")  # with its subscription still there
        assert "version" not in (await table_columns(engine))["contact"]
    finally:
        await engine.dispose()
