"""The convention service's institutions API, run in-process over the real broker
on SQLite and PostgreSQL: registration (state + outbox + event on the exchange),
duplicates, validation, reads and search, correlation, health and documents."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

import convention.app
from jumelage.messaging.tables import OutboxRecord
from jumelage.testkit.client import ActingAs
from jumelage.testkit.servers import Database
from jumelage.testkit.services import running, service_settings
from jumelage.testkit.tap import EventTap, event_tap
from jumelage.testkit.waiting import eventually

CMCI = {"name": "CMCI Bousmail", "kind": "clinic", "country": "DZ", "city": "Bou Ismail", "wilaya": "Tipaza"}

PROGRAMME = [
    {"name": "CNAS", "kind": "insurer", "country": "DZ", "city": "Alger"},
    {"name": "Gruppo San Donato", "kind": "hospital_group", "country": "IT", "city": "Milano"},
    CMCI,
    {"name": "CHU Oran", "kind": "university_hospital", "country": "DZ", "city": "Oran", "wilaya": "Oran"},
    {"name": "EPH Tiaret", "kind": "hospital", "country": "DZ", "city": "Tiaret", "wilaya": "Tiaret"},
    {"name": "DSP Oran", "kind": "health_directorate", "country": "DZ", "city": "Oran"},
    {"name": "Ministère de la Santé", "kind": "ministry", "country": "DZ", "city": "Alger"},
]


@pytest.fixture
async def service(amqp_url: str, namespace: str, database: Database) -> AsyncIterator[tuple[Any, EventTap]]:
    """The service in this process, and a tap on its exchange opened before it starts."""
    settings = service_settings(
        convention.app.Settings, amqp_url=amqp_url, namespace=namespace,
        database=await database.for_service("convention"),
    )
    async with event_tap(amqp_url, f"{namespace}jumelage.events") as tap:
        async with running(convention.app.create_app(settings), convention.app.MIGRATIONS,
                           acting_as=ActingAs("administrator")) as client:
            yield client, tap


@pytest.fixture
def client(service: tuple[Any, EventTap]) -> Any:
    return service[0]


async def outbox_rows(client: Any) -> list[OutboxRecord]:
    async with client.runtime.sessions() as s:
        return list((await s.scalars(select(OutboxRecord).order_by(OutboxRecord.seq))).all())


async def register(client: Any, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    response = await client.post("/institutions", json=body, **kw)
    assert response.status_code == 201, response.text
    return response.json()


# -- registering --------------------------------------------------------------------


async def test_register_returns_the_institution_and_publishes_institution_registered(
    service: tuple[Any, EventTap],
) -> None:
    client, tap = service
    response = await client.post("/institutions", json=CMCI)

    assert response.status_code == 201, response.text
    body = response.json()
    assert {k: body[k] for k in CMCI} == CMCI
    uuid.UUID(body["id"])
    assert body["registered_at"]

    await tap.wait_for(lambda bodies: any(b["type"] == "InstitutionRegistered" for b in bodies))
    (event,) = tap.of_type("InstitutionRegistered")
    assert event["data"] == {
        "institution_id": body["id"], "name": "CMCI Bousmail", "kind": "clinic", "country": "DZ",
        "city": "Bou Ismail", "wilaya": "Tipaza",
    }
    assert event["source"] == "/services/convention"
    assert event["subject"] == f"institutions/{body['id']}"
    assert event["specversion"] == "1.0"
    message = tap.messages[0]
    assert message.routing_key == "institution.registered"
    assert message.message_id == event["id"]

    async def published() -> list[OutboxRecord]:
        rows = await outbox_rows(client)
        return rows if rows and all(r.published_at is not None for r in rows) else []

    (row,) = await eventually(published)
    assert str(row.event_id) == event["id"]
    assert row.event_type == "InstitutionRegistered"

    fetched = await client.get(f"/institutions/{body['id']}")
    assert fetched.status_code == 200
    assert {k: v for k, v in fetched.json().items() if k != "registered_at"} == {
        k: v for k, v in body.items() if k != "registered_at"
    }


async def test_registered_at_reads_back_as_the_same_utc_instant(client: Any) -> None:
    body = await register(client, CMCI)
    assert body["registered_at"].endswith("Z"), body["registered_at"]
    fetched = (await client.get(f"/institutions/{body['id']}")).json()
    assert fetched["registered_at"] == body["registered_at"]
    listed = (await client.get("/institutions")).json()["items"][0]
    assert listed["registered_at"] == body["registered_at"]


async def test_country_is_stored_upper_case_and_text_trimmed(client: Any) -> None:
    body = await register(client, {"name": "  Gruppo San Donato ", "kind": "hospital_group", "country": "it",
                                   "city": " Milano", "wilaya": "   "})
    assert body["name"] == "Gruppo San Donato"
    assert body["city"] == "Milano"
    assert body["country"] == "IT"
    assert body["wilaya"] is None


async def test_same_name_and_city_again_is_a_conflict_and_emits_nothing(service: tuple[Any, EventTap]) -> None:
    client, tap = service
    first = await register(client, CMCI)
    await tap.wait_for(lambda bodies: len(bodies) >= 1)

    for name, city in [("cmci bousmail", "BOU ISMAIL"), ("  CMCI Bousmail  ", "  Bou Ismail ")]:
        again = await client.post("/institutions", json={**CMCI, "name": name, "city": city, "kind": "hospital"})
        assert again.status_code == 409, again.text
        detail = again.json()["detail"]
        assert "CMCI Bousmail" in detail and first["id"] in detail, detail

    assert len(await outbox_rows(client)) == 1
    listed = (await client.get("/institutions")).json()
    assert listed["total"] == 1
    # The relay publishes in commit order: once a later institution's event is here, a
    # second event of the refused ones would be here too.
    await register(client, {**CMCI, "name": "CHU Oran", "city": "Oran"})
    await tap.wait_for(lambda bodies: any(b["data"]["name"] == "CHU Oran" for b in bodies))
    assert [b["data"]["name"] for b in tap.of_type("InstitutionRegistered")] == ["CMCI Bousmail", "CHU Oran"]


async def test_same_name_in_another_city_is_another_institution(client: Any) -> None:
    await register(client, {"name": "Clinique El Azhar", "kind": "clinic", "country": "DZ", "city": "Alger"})
    await register(client, {"name": "Clinique El Azhar", "kind": "clinic", "country": "DZ", "city": "Oran"})
    assert (await client.get("/institutions")).json()["total"] == 2


async def test_duplicate_with_non_ascii_case_difference_is_a_conflict(client: Any) -> None:
    await register(client, {"name": "MINISTÈRE DE LA SANTÉ", "kind": "ministry", "country": "DZ", "city": "Alger"})
    again = await client.post(
        "/institutions", json={"name": "Ministère de la Santé", "kind": "ministry", "country": "DZ", "city": "Alger"}
    )
    assert again.status_code == 409, again.text


BAD_INPUT = [
    ("unknown kind", {"kind": "pharmacy"}, "kind"),
    ("alpha-3 country", {"country": "DZA"}, "country"),
    ("digit in country", {"country": "D1"}, "country"),
    ("empty name", {"name": ""}, "name"),
    ("blank name", {"name": "   "}, "name"),
    ("empty city", {"city": ""}, "city"),
    ("unknown field", {"budget": 1000}, "budget"),
    ("missing kind", {"kind": None}, "kind"),
]


async def test_bad_input_is_422_naming_the_field(client: Any) -> None:
    # One service for all cases: each start costs more than the requests.
    for case, change, field in BAD_INPUT:
        body = {k: v for k, v in {**CMCI, **change}.items() if v is not None}
        response = await client.post("/institutions", json=body)
        assert response.status_code == 422, (case, response.text)
        locations = [e["loc"] for e in response.json()["detail"]]
        assert ["body", field] in locations, (case, locations)
        assert all(e["msg"] for e in response.json()["detail"]), case
    assert len(await outbox_rows(client)) == 0
    assert (await client.get("/institutions")).json()["total"] == 0


# -- reading ---------------------------------------------------------------------------


async def test_unknown_id_is_404_with_a_message(client: Any) -> None:
    unknown = uuid.uuid4()
    response = await client.get(f"/institutions/{unknown}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"no institution {unknown}"}

    malformed = await client.get("/institutions/not-a-uuid")
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["path", "institution_id"]


async def test_list_and_search_the_programme_institutions(client: Any) -> None:
    ids = {}
    for body in PROGRAMME:
        ids[body["name"]] = (await register(client, body))["id"]

    async def names(**params: Any) -> list[str]:
        response = await client.get("/institutions", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == len(page["items"])
        return [i["name"] for i in page["items"]]

    everything = await client.get("/institutions")
    page = everything.json()
    assert page["total"] == 7 and page["limit"] == 50 and page["offset"] == 0
    assert [i["name"] for i in page["items"]] == sorted(b["name"] for b in PROGRAMME)
    by_name = {i["name"]: i for i in page["items"]}
    assert by_name["CHU Oran"]["id"] == ids["CHU Oran"]
    assert by_name["CMCI Bousmail"]["wilaya"] == "Tipaza"

    assert await names(name="oran") == ["CHU Oran", "DSP Oran"]
    assert await names(kind="clinic") == ["CMCI Bousmail"]
    assert await names(kind="ministry") == ["Ministère de la Santé"]
    assert await names(kind="hospital") == ["EPH Tiaret"]  # not hospital_group nor university_hospital
    assert await names(country="IT") == ["Gruppo San Donato"]
    assert len(await names(country="DZ")) == 6
    assert len(await names(country="dz")) == 6
    assert await names(wilaya="Oran") == ["CHU Oran"]
    assert await names(wilaya="tipaza") == ["CMCI Bousmail"]
    assert await names(city="Oran") == ["CHU Oran", "DSP Oran"]
    assert await names(city="alger") == ["CNAS", "Ministère de la Santé"]
    assert await names(country="DZ", city="Oran", kind="health_directorate") == ["DSP Oran"]
    assert await names(country="FR") == []
    assert await names(city="Constantine") == []

    bad_kind = await client.get("/institutions", params={"kind": "pharmacy"})
    assert bad_kind.status_code == 422
    assert bad_kind.json()["detail"][0]["loc"] == ["query", "kind"]


async def test_pagination(client: Any) -> None:
    for body in PROGRAMME:
        await register(client, body)

    seen: list[str] = []
    for offset in (0, 3, 6):
        response = await client.get("/institutions", params={"limit": 3, "offset": offset})
        page = response.json()
        assert page["total"] == 7
        assert page["limit"] == 3 and page["offset"] == offset
        assert len(page["items"]) == (3 if offset < 6 else 1)
        seen += [i["name"] for i in page["items"]]
    assert seen == sorted(b["name"] for b in PROGRAMME), "pages neither overlap nor skip"

    beyond = (await client.get("/institutions", params={"offset": 10})).json()
    assert beyond["items"] == [] and beyond["total"] == 7

    filtered = (await client.get("/institutions", params={"country": "DZ", "limit": 2, "offset": 1})).json()
    assert filtered["total"] == 6
    assert [i["name"] for i in filtered["items"]] == ["CMCI Bousmail", "CNAS"]

    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}):
        assert (await client.get("/institutions", params=params)).status_code == 422, params


# -- correlation -------------------------------------------------------------------------


async def test_given_correlation_id_is_echoed_and_carried_by_the_event(service: tuple[Any, EventTap]) -> None:
    client, tap = service
    response = await client.post("/institutions", json=CMCI, headers={"X-Correlation-ID": "programme-cnas-2024"})
    assert response.status_code == 201
    assert response.headers["x-correlation-id"] == "programme-cnas-2024"

    await tap.wait_for(lambda bodies: len(bodies) >= 1)
    (event,) = tap.of_type("InstitutionRegistered")
    assert event["correlationid"] == "programme-cnas-2024"
    assert event["causationid"], "the request that caused the event is named"
    assert event["causationid"] != "programme-cnas-2024"
    uuid.UUID(event["causationid"])
    assert tap.messages[0].correlation_id == "programme-cnas-2024"


async def test_without_correlation_id_a_new_one_is_returned_and_carried(service: tuple[Any, EventTap]) -> None:
    client, tap = service
    first = await client.post("/institutions", json=CMCI)
    second = await client.post("/institutions", json={**CMCI, "name": "CHU Oran", "city": "Oran"})
    correlations = [first.headers["x-correlation-id"], second.headers["x-correlation-id"]]
    for value in correlations:
        uuid.UUID(value)
    assert correlations[0] != correlations[1], "each request starts its own chain"

    await tap.wait_for(lambda bodies: len(bodies) >= 2)
    events = {e["data"]["name"]: e for e in tap.of_type("InstitutionRegistered")}
    assert events["CMCI Bousmail"]["correlationid"] == correlations[0]
    assert events["CHU Oran"]["correlationid"] == correlations[1]
    for event in events.values():
        # The first request of a chain names it: it is also the cause.
        assert event["causationid"] == event["correlationid"]


async def test_correlation_header_is_on_error_responses_too(client: Any) -> None:
    response = await client.get(f"/institutions/{uuid.uuid4()}", headers={"X-Correlation-ID": "lost-one"})
    assert response.status_code == 404
    assert response.headers["x-correlation-id"] == "lost-one"


# -- health and documents ---------------------------------------------------------------


async def test_health(client: Any) -> None:
    live = await client.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}

    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


async def test_asyncapi_documents_the_events_it_publishes(client: Any, namespace: str) -> None:
    response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["asyncapi"].startswith("3.")
    assert spec["info"]["title"] == "Jumelage convention"
    channel = spec["channels"]["institution.registered"]
    assert channel["address"] == "institution.registered"
    assert channel["bindings"]["amqp"]["exchange"]["name"] == f"{namespace}jumelage.events"
    assert channel["bindings"]["amqp"]["exchange"]["type"] == "topic"
    assert spec["operations"]["sendInstitutionRegistered"]["action"] == "send"
    assert "convention.signed" in spec["channels"]
    # It publishes only its own events: another service's appear, if at all, as what its queue receives.
    sent = {op["channel"]["$ref"].rsplit("/", 1)[1] for op in spec["operations"].values() if op["action"] == "send"}
    assert not any(name.startswith(("mission.", "surgery.", "notification.")) for name in sent), sent
    # Its subscriber, the service's own queue, and the queue's dead letters (for operators).
    received = [k for k, op in spec["operations"].items() if op["action"] == "receive"]
    assert received == [f"{namespace}convention.events", f"{namespace}convention.events.dlq"]
    queue = spec["channels"][f"{namespace}convention.events"]
    assert queue["bindings"]["amqp"]["queue"]["name"] == f"{namespace}convention.events"

    html = await client.get("/asyncapi")
    assert html.status_code == 200
    assert "text/html" in html.headers["content-type"]


async def test_openapi_lists_the_institution_routes(client: Any) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert set(spec["paths"]["/institutions"]) == {"get", "post"}
    assert "get" in spec["paths"]["/institutions/{institution_id}"]
    assert "/asyncapi.json" not in spec["paths"]
    schema = spec["components"]["schemas"]["InstitutionIn"]
    assert set(schema["required"]) == {"name", "kind", "country", "city"}
