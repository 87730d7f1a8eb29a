"""Concurrent edits of missions, surgeries and patient cases over HTTP, on SQLite
and PostgreSQL: every read gives an ETag, every change takes If-Match, a stale
one is a 412 that says when the record changed, and the first change holds.
The migration gives the rows from before version 1."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

import sqlalchemy as sa

import scheduling.app
from jumelage.db import create_engine, session_factory
from jumelage.events import ConventionResumed, ConventionSuspended
from jumelage.migrations import migrate
from jumelage.testkit.schema import downgrade, table_columns
from jumelage.testkit.servers import Database
from scheduling.store.tables import (
    INSTITUTIONS, ConventionRow, HostResourcesRow, MissionMemberRow, MissionRow, OperatingRoomRow, PatientCaseRow,
    SurgeryRow,
)
from scheduling_testkit import CMCI, CONVENTION, GSD, NOW, Scheduling

NURSE = {"practitioner_id": "7b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d", "full_name": "Sara Ricci", "role": "nurse"}


async def read(s: Scheduling, url: str) -> str:
    r = await s.client.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == f'"{r.json()["version"]}"'
    return r.headers["etag"]


async def test_two_coordinators_changing_one_mission(programme: Scheduling) -> None:
    s = programme
    mission = await s.mission()
    url = f"/missions/{mission['id']}"
    # The host's and the visiting institution's coordinators both read it.
    with s.client.auth.acting("coordinator", institution=CMCI):
        host_read = await read(s, url)
    with s.client.auth.acting("coordinator", institution=GSD):
        visiting_read = await read(s, url)
    assert host_read == visiting_read == '"1"'

    s.clock.advance(minutes=5)
    with s.client.auth.acting("coordinator", institution=CMCI):
        r = await s.client.post(f"{url}/reschedule", headers={"If-Match": host_read},
                                json={"starts_on": "2030-06-12", "ends_on": "2030-06-16", "reason": "Vols décalés"})
    assert r.status_code == 200 and r.headers["etag"] == '"2"', r.text
    assert r.json()["updated_at"] == "2030-06-11T09:05:00Z"  # the service's clock
    with s.client.auth.acting("coordinator", institution=GSD):
        r = await s.client.post(f"{url}/cancel", headers={"If-Match": visiting_read}, json={"reason": "Visas"})
    assert r.status_code == 412, r.text
    assert r.json()["record"] == f"mission {mission['id']}" and r.json()["etag"] == '"2"'
    assert r.json()["updated_at"] == "2030-06-11T09:05:00Z" and "has changed since you read it" in r.json()["detail"]
    now = await s.ok("GET", url)
    assert (now["status"], now["starts_on"]) == ("scheduled", "2030-06-12"), "the first change holds"

    # The team is part of the mission: changing it moves the version, and takes If-Match too.
    r = await s.client.post(f"{url}/team", json=NURSE, headers={"If-Match": '"1"'})
    assert r.status_code == 412, r.text
    r = await s.client.post(f"{url}/team", json=NURSE, headers={"If-Match": '"2"'})
    assert r.status_code == 201 and r.headers["etag"] == '"3"', r.text
    r = await s.client.delete(f"{url}/team/{NURSE['practitioner_id']}", headers={"If-Match": '"2"'})
    assert r.status_code == 412, r.text
    r = await s.client.delete(f"{url}/team/{NURSE['practitioner_id']}", headers={"If-Match": '"3"'})
    assert r.status_code == 200 and r.headers["etag"] == '"4"', r.text

    # A change made on an event moves the version too: a read from before it is stale.
    before_hold = await read(s, url)
    await s.deliver(ConventionSuspended(convention_id=CONVENTION, reason="Audit CNAS"))
    assert (await s.ok("GET", url))["status"] == "on_hold"
    r = await s.client.post(f"{url}/cancel", headers={"If-Match": before_hold}, json={"reason": "Visas"})
    assert r.status_code == 412 and r.json()["etag"] == '"5"', r.text
    await s.deliver(ConventionResumed(convention_id=CONVENTION, reason="Audit clos"))
    # "*" matches whatever the version.
    r = await s.client.post(f"{url}/start", headers={"If-Match": "*"})
    assert r.status_code == 200 and r.json()["status"] == "started" and r.headers["etag"] == '"7"', r.text
    assert [m["version"] for m in await s.ok("GET", "/missions")] == [7]


async def test_a_surgery_and_its_case(programme: Scheduling) -> None:
    s = programme
    room, case, mission = await s.room(), await s.case(), await s.mission()
    case_url = f"/cases/{case['id']}"
    assert await read(s, case_url) == '"1"'
    r = await s.client.post(f"/missions/{mission['id']}/surgeries", json={
        "case_id": case["id"], "operating_room_id": room["id"], "scheduled_start": "2030-06-12T08:00:00+01:00",
        "lead_surgeon_id": "3c8e1f2a-5b6d-4e7f-a9b0-c1d2e3f4a577"})
    assert r.status_code == 201 and r.headers["etag"] == '"1"', r.text
    surgery = r.json()
    url = f"/surgeries/{surgery['id']}"
    # Booking the surgery changed the case (its status): a read of the case from before is stale.
    assert await read(s, case_url) == '"2"'
    r = await s.client.post(f"{case_url}/cancel", headers={"If-Match": '"1"'}, json={"reason": "Erreur"})
    assert r.status_code == 412 and r.json()["record"] == f"patient case {case['id']}", r.text

    # Two clinicians read the surgery; the first moves it, the second's cancellation is refused.
    first = second = await read(s, url)
    s.clock.advance(minutes=2)
    r = await s.client.post(f"{url}/reschedule", headers={"If-Match": first},
                            json={"scheduled_start": "2030-06-13T08:00:00+01:00", "reason": "Bloc occupé"})
    assert r.status_code == 200 and r.headers["etag"] == '"2"', r.text
    r = await s.client.post(f"{url}/cancel", headers={"If-Match": second}, json={"reason": "Famille absente"})
    assert r.status_code == 412, r.text
    assert (r.json()["record"], r.json()["etag"]) == (f"surgery {surgery['id']}", '"2"')
    assert r.json()["updated_at"] == "2030-06-11T09:02:00Z"
    now = await s.ok("GET", url)
    assert (now["status"], now["scheduled_start"]) == ("scheduled", "2030-06-13T07:00:00Z")
    assert (await s.ok("GET", case_url))["status"] == "scheduled"

    r = await s.client.post(f"{url}/cancel", headers={"If-Match": '"2"'}, json={"reason": "Famille absente"})
    assert r.status_code == 200 and r.headers["etag"] == '"3"', r.text
    # The case is back on the list (version 3), and is closed at the version read.
    assert await read(s, case_url) == '"3"'
    r = await s.client.post(f"{case_url}/refer-elsewhere", headers={"If-Match": '"3"'}, json={"reason": "Opéré à Alger"})
    assert r.status_code == 200 and r.json()["status"] == "referred_elsewhere" and r.headers["etag"] == '"4"', r.text
    r = await s.client.post(f"{case_url}/cancel", headers={"If-Match": "nope"}, json={"reason": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["header", "If-Match"], r.text


async def test_start_and_complete_a_surgery_at_the_version_read(programme: Scheduling) -> None:
    s = programme
    room, case = await s.room(), await s.case()
    mission = await s.mission(starts_on="2030-06-11")
    await s.ok("POST", f"/missions/{mission['id']}/start", headers={"If-Match": '"1"'})
    surgery = await s.surgery(mission, case, room, start="2030-06-11T08:00:00+01:00")
    url = f"/surgeries/{surgery['id']}"
    r = await s.client.post(f"{url}/start")  # without If-Match: as before
    assert r.status_code == 200 and r.headers["etag"] == '"2"', r.text
    done = {"outcome": "successful", "duration_minutes": 60}
    r = await s.client.post(f"{url}/complete", headers={"If-Match": '"1"'}, json=done)
    assert r.status_code == 412 and (await s.ok("GET", url))["status"] == "started", r.text
    r = await s.client.post(f"{url}/complete", headers={"If-Match": '"2"'}, json=done)
    assert r.status_code == 200 and r.headers["etag"] == '"3"', r.text


async def test_the_openapi_documents_if_match_etag_and_the_412(programme: Scheduling) -> None:
    spec = (await programme.client.get("/openapi.json")).json()["paths"]
    changes = [("/missions/{mission_id}/reschedule", "post"), ("/missions/{mission_id}/cancel", "post"),
               ("/missions/{mission_id}/start", "post"), ("/missions/{mission_id}/complete", "post"),
               ("/missions/{mission_id}/team", "post"), ("/missions/{mission_id}/team/{practitioner_id}", "delete"),
               ("/surgeries/{surgery_id}/reschedule", "post"), ("/surgeries/{surgery_id}/cancel", "post"),
               ("/surgeries/{surgery_id}/start", "post"), ("/surgeries/{surgery_id}/complete", "post"),
               ("/cases/{case_id}/cancel", "post"), ("/cases/{case_id}/refer-elsewhere", "post")]
    for path, method in changes:
        operation = spec[path][method]
        assert any(p["name"] == "If-Match" and p["in"] == "header" for p in operation["parameters"]), path
        assert "412" in operation["responses"], path
    for path in ("/missions/{mission_id}", "/surgeries/{surgery_id}", "/cases/{case_id}"):
        assert "ETag" in spec[path]["get"]["responses"]["200"]["headers"], path


async def test_migration_gives_the_rows_from_before_version_1(database: Database) -> None:
    own = await database.for_service("scheduling")
    engine = create_engine(own.url, schema=own.schema)
    script = scheduling.app.MIGRATIONS
    created = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    ids = {name: uuid.uuid4() for name in ("convention", "mission", "case", "surgery", "room")}
    try:
        await migrate(engine, script, "0005")
        async with engine.begin() as conn:  # the mapped tables, less the columns 0006 adds
            for table, values in [
                (INSTITUTIONS, dict(id=CMCI, name="CMCI", kind="clinic", country="DZ", city="Bou Ismail",
                                      registered_by_event=uuid.uuid4())),
                (ConventionRow, dict(id=ids["convention"], parties=[], specialties=[], signed=True,
                                     term_versions={})),
                (HostResourcesRow, dict(institution_id=CMCI, timezone="Africa/Algiers", icu_beds=0)),
                (OperatingRoomRow, dict(id=ids["room"], institution_id=CMCI, name="Bloc", opens_at=time(8),
                                        closes_at=time(18))),
                (MissionRow, dict(id=ids["mission"], convention_id=ids["convention"], host_institution_id=CMCI,
                                  visiting_institution_id=GSD, specialty="x", starts_on=date(2030, 6, 10),
                                  ends_on=date(2030, 6, 14), status="scheduled", created_at=created)),
                (MissionMemberRow, dict(mission_id=ids["mission"], practitioner_id=uuid.uuid4(), position=0,
                                        full_name="M. B.", role="surgeon")),
                (PatientCaseRow, dict(id=ids["case"], patient_ref="P-OLD", host_institution_id=CMCI,
                                      full_name="X", date_of_birth=date(2026, 1, 1), sex="male", weight_kg=9.0,
                                      diagnosis="d", planned_procedure="p", priority=1,
                                      expected_duration_minutes=60, risk_scheme="none", referred_abroad=False,
                                      status="scheduled", registered_at=created)),
                (SurgeryRow, dict(id=ids["surgery"], mission_id=ids["mission"], case_id=ids["case"],
                                  patient_ref="P-OLD", procedure="p", operating_room_id=ids["room"],
                                  operating_room="Bloc", scheduled_start=NOW, scheduled_end=NOW,
                                  expected_duration_minutes=60, lead_surgeon_id=uuid.uuid4(), status="scheduled")),
            ]:
                if table is PatientCaseRow:  # as the schema of then stored it: in clear (0017 seals it)
                    types = {"full_name": sa.String(), "date_of_birth": sa.Date()}
                    table = sa.table("patient_case", *(
                        sa.column(c.name, types.get(c.name, c.type)) for c in PatientCaseRow.__table__.columns
                        if c.name in values))
                await conn.execute(sa.insert(getattr(table, "__table__", table)).values(**values))  # a class, or the replica's Table
        before = datetime.now(UTC)
        await migrate(engine, script)
        async with session_factory(engine)() as session:
            mission = await session.get(MissionRow, ids["mission"])
            case = await session.get(PatientCaseRow, ids["case"])
            surgery = await session.get(SurgeryRow, ids["surgery"])
            assert mission and case and surgery
            assert (mission.version, mission.updated_at) == (1, created)
            assert (case.version, case.updated_at) == (1, created)
            assert surgery.version == 1 and surgery.updated_at >= before.replace(microsecond=0)
        await downgrade(engine, script, "0005")  # with the children still there
        after = await table_columns(engine)
        assert not {"version", "updated_at"} & (after["mission"] | after["surgery"] | after["patient_case"])
    finally:
        await engine.dispose()
