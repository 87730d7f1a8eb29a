"""The notification service's HTTP API on SQLite and PostgreSQL: contacts, consent,
subscriptions, the notification history; 422 naming the field, 409 on a second
contact for the same person or institution, 404 for an unknown id."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

SECRET = "cmci-webhook-secret-0123456789"


@pytest.fixture
async def h(notification_service: Any) -> Any:
    async with notification_service() as harness:
        yield harness


def locations(response: Any) -> list[list[str]]:
    assert response.status_code == 422, response.text
    return [e["loc"] for e in response.json()["detail"]]


async def test_contacts_of_each_kind_are_created_read_listed_changed_and_deleted(h: Any) -> None:
    practitioner_id, institution_id = uuid.uuid4(), uuid.uuid4()
    surgeon = await h.contact(kind="practitioner", practitioner_id=str(practitioner_id), display_name="Dr Frigiola",
                              email="a.frigiola@grupposandonato.it", phone="+39 333 123 4567", language="en")
    assert surgeon["recipient_ref"] == f"contact:{surgeon['id']}"
    assert surgeon["practitioner_id"] == str(practitioner_id)
    assert surgeon["phone"] == "+393331234567", "stored in E.164"
    assert surgeon["channels"] == ["email", "sms"]
    assert surgeon["consent"] is None

    cmci = await h.contact(kind="institution", institution_id=str(institution_id), email="direction@cmci.dz",
                           webhook_url="https://hooks.cmci.dz/jumelage", webhook_secret=SECRET)
    assert cmci["webhook_secret_set"] is True
    assert "webhook_secret" not in cmci and SECRET not in str(cmci), "the secret is never returned"
    family = await h.contact(kind="family", patient_ref="P-2031-0042", phone="+213555123456",
                             preferred_channel="sms", language="ar")
    assert family["channels"] == ["sms"]
    assert family["language"] == "ar"

    fetched = await h.client.get(f"/contacts/{surgeon['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == surgeon

    listed = (await h.client.get("/contacts")).json()
    assert listed["total"] == 3 and listed["limit"] == 50 and listed["offset"] == 0
    assert [c["id"] for c in (await h.client.get("/contacts", params={"kind": "family"})).json()["items"]] == [
        family["id"]]
    by_institution = (await h.client.get("/contacts", params={"institution_id": str(institution_id)})).json()
    assert [c["id"] for c in by_institution["items"]] == [cmci["id"]]
    page = (await h.client.get("/contacts", params={"limit": 2, "offset": 2})).json()
    assert page["total"] == 3 and len(page["items"]) == 1

    patched = await h.client.patch(f"/contacts/{surgeon['id']}",
                                   json={"email": "frigiola@gsd.it", "phone": None, "language": "fr"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["email"] == "frigiola@gsd.it"
    assert patched.json()["phone"] is None
    assert patched.json()["language"] == "fr"
    assert patched.json()["display_name"] == "Dr Frigiola", "fields not given are kept"
    assert patched.json()["channels"] == ["email"]

    assert (await h.client.delete(f"/contacts/{surgeon['id']}")).status_code == 204
    assert (await h.client.get(f"/contacts/{surgeon['id']}")).status_code == 404
    assert (await h.client.get("/contacts")).json()["total"] == 2


BAD_CONTACTS: list[tuple[dict[str, Any], str]] = [
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@b"}, "email"),
    ({"email": "a b@example.dz"}, "email"),
    ({"email": "x@example.dz\r\nBcc: all@example.dz"}, "email"),
    ({"phone": "0555123456"}, "phone"),
    ({"phone": "+0555123456"}, "phone"),
    ({"phone": "+213-555-12-34-56-78-90-12"}, "phone"),
    ({"email": "ok@example.dz", "language": "de"}, "language"),
    ({"email": "ok@example.dz", "preferred_channel": "fax"}, "preferred_channel"),
    ({"email": "ok@example.dz", "preferred_channel": "sms"}, "preferred_channel"),
    ({"webhook_url": "ftp://example.dz/hook", "webhook_secret": SECRET}, "webhook_url"),
    ({"webhook_url": "https://user:pw@example.dz/hook", "webhook_secret": SECRET}, "webhook_url"),
    ({"webhook_url": "https://example.dz/hook"}, "webhook_secret"),
    ({"webhook_url": "https://example.dz/hook", "webhook_secret": "short"}, "webhook_secret"),
    ({}, "email"),  # no channel at all
    ({"email": "ok@example.dz", "colour": "blue"}, "colour"),
]


async def test_bad_contact_is_422_naming_the_field(h: Any) -> None:
    """Bad email, phone not E.164, unknown language or channel, webhook without a
    secret or with credentials, no channel at all, an unknown field, a subject that
    does not match the kind."""
    for body, field in BAD_CONTACTS:
        response = await h.client.post(
            "/contacts", json={"kind": "practitioner", "practitioner_id": str(uuid.uuid4()), **body})
        assert response.status_code == 422, (body, response.text)
        assert ["body", field] in locations(response), (body, response.text)

    # The subject must match the kind.
    def post(body: dict[str, Any]) -> Any:
        return h.client.post("/contacts", json={"email": "ok@example.dz", **body})

    assert ["body", "practitioner_id"] in locations(await post({"kind": "practitioner"}))
    assert ["body", "patient_ref"] in locations(await post({"kind": "family", "patient_ref": "  "}))
    assert ["body", "institution_id"] in locations(
        await post({"kind": "practitioner", "practitioner_id": str(uuid.uuid4()), "institution_id": str(uuid.uuid4())}))
    assert ["body", "kind"] in locations(await post({"kind": "ministry", "institution_id": str(uuid.uuid4())}))
    assert ["body", "practitioner_id"] in locations(await post({"kind": "practitioner", "practitioner_id": "dr-who"}))
    assert (await h.client.get("/contacts")).json()["total"] == 0


async def test_a_second_contact_for_the_same_person_or_institution_is_a_conflict(h: Any) -> None:
    practitioner_id, institution_id = str(uuid.uuid4()), str(uuid.uuid4())
    first = await h.contact(kind="practitioner", practitioner_id=practitioner_id, email="a@example.it")
    await h.contact(kind="institution", institution_id=institution_id, email="b@example.dz")
    await h.contact(kind="family", patient_ref="P-1", phone="+213555123456")
    for body in ({"kind": "practitioner", "practitioner_id": practitioner_id, "email": "other@example.it"},
                 {"kind": "institution", "institution_id": institution_id, "email": "other@example.dz"},
                 {"kind": "family", "patient_ref": " P-1 ", "phone": "+213555000000"}):
        response = await h.client.post("/contacts", json=body)
        assert response.status_code == 409, response.text
    response = await h.client.post("/contacts", json={"kind": "practitioner", "practitioner_id": practitioner_id,
                                                      "email": "x@example.it"})
    assert first["id"] in response.json()["detail"]
    # The same id under another kind is another subject.
    await h.contact(kind="institution", institution_id=practitioner_id, email="c@example.dz")


async def test_bad_changes_are_422_and_identity_cannot_change(h: Any) -> None:
    c = await h.contact(kind="institution", institution_id=str(uuid.uuid4()), email="b@example.dz")
    assert ["body", "email"] in locations(await h.client.patch(f"/contacts/{c['id']}", json={"email": "nope"}))
    assert ["body", "email"] in locations(await h.client.patch(f"/contacts/{c['id']}", json={"email": None}))
    assert ["body", "language"] in locations(await h.client.patch(f"/contacts/{c['id']}", json={"language": "es"}))
    assert ["body", "kind"] in locations(await h.client.patch(f"/contacts/{c['id']}", json={"kind": "family"}))
    assert ["body", "institution_id"] in locations(
        await h.client.patch(f"/contacts/{c['id']}", json={"institution_id": str(uuid.uuid4())}))
    assert (await h.client.get(f"/contacts/{c['id']}")).json() == c


async def test_unknown_ids_are_404(h: Any) -> None:
    unknown = uuid.uuid4()
    for method, path, body in (
        ("GET", f"/contacts/{unknown}", None),
        ("PATCH", f"/contacts/{unknown}", {"language": "ar"}),
        ("DELETE", f"/contacts/{unknown}", None),
        ("POST", f"/contacts/{unknown}/consent", {"given_by": "la mère"}),
        ("DELETE", f"/contacts/{unknown}/consent", None),
        ("POST", f"/contacts/{unknown}/subscriptions", {"event_type": "MissionScheduled"}),
        ("GET", f"/contacts/{unknown}/subscriptions", None),
        ("GET", f"/notifications/{unknown}", None),
    ):
        response = await h.client.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert str(unknown) in response.json()["detail"]
    assert (await h.client.get("/contacts/not-a-uuid")).status_code == 422


async def test_consent_is_recorded_for_families_only_and_can_be_withdrawn(h: Any) -> None:
    family = await h.contact(kind="family", patient_ref="P-2031-0042", phone="+213555123456")
    recorded = await h.client.post(f"/contacts/{family['id']}/consent",
                                   json={"given_by": "la mère, formulaire signé", "given_at": "2031-05-01T10:00:00Z"})
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["consent"] == {"given_by": "la mère, formulaire signé", "given_at": "2031-05-01T10:00:00Z"}
    now = await h.client.post(f"/contacts/{family['id']}/consent", json={"given_by": "le père"})
    assert now.json()["consent"]["given_by"] == "le père" and now.json()["consent"]["given_at"]

    assert ["body", "given_by"] in locations(
        await h.client.post(f"/contacts/{family['id']}/consent", json={"given_by": ""}))
    assert ["body", "given_at"] in locations(
        await h.client.post(f"/contacts/{family['id']}/consent", json={"given_by": "x", "given_at": "2031-05-01T10:00"}))

    surgeon = await h.contact(kind="practitioner", practitioner_id=str(uuid.uuid4()), email="s@example.it")
    response = await h.client.post(f"/contacts/{surgeon['id']}/consent", json={"given_by": "himself"})
    assert response.status_code == 409
    assert "family" in response.json()["detail"]

    withdrawn = await h.client.delete(f"/contacts/{family['id']}/consent")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["consent"] is None


async def test_subscriptions_are_added_listed_and_removed(h: Any) -> None:
    c = await h.contact(kind="institution", institution_id=str(uuid.uuid4()), email="dgs@sante.gov.dz")
    base = f"/contacts/{c['id']}/subscriptions"
    convention_id = str(uuid.uuid4())
    added = await h.client.post(base, json={"event_type": "ConventionSuspended", "convention_id": convention_id})
    assert added.status_code == 201, added.text
    sub = added.json()
    assert sub == {"id": sub["id"], "contact_id": c["id"], "event_type": "ConventionSuspended",
                   "convention_id": convention_id, "institution_id": None, "opt_out": False}
    opt_out = await h.client.post(base, json={"event_type": "MissionScheduled", "opt_out": True})
    assert opt_out.status_code == 201
    reminder = await h.client.post(base, json={"event_type": "SurgeryReminder", "opt_out": True})
    assert reminder.status_code == 201, "reminders can be opted out of too"

    again = await h.client.post(base, json={"event_type": "ConventionSuspended", "convention_id": convention_id})
    assert again.status_code == 409
    other_scope = await h.client.post(base, json={"event_type": "ConventionSuspended"})
    assert other_scope.status_code == 201, "the same type unlimited is another rule"

    assert ["body", "event_type"] in locations(await h.client.post(base, json={"event_type": "PatientDischarged"}))
    assert ["body", "institution_id"] in locations(await h.client.post(
        base, json={"event_type": "MissionScheduled", "convention_id": convention_id,
                    "institution_id": str(uuid.uuid4())}))

    listed = (await h.client.get(base)).json()
    assert {s["event_type"] for s in listed} == {"ConventionSuspended", "MissionScheduled", "SurgeryReminder"}
    assert len(listed) == 4
    assert (await h.client.delete(f"{base}/{sub['id']}")).status_code == 204
    assert (await h.client.delete(f"{base}/{sub['id']}")).status_code == 404
    assert len((await h.client.get(base)).json()) == 3

    # Deleting the contact takes its subscriptions with it.
    assert (await h.client.delete(f"/contacts/{c['id']}")).status_code == 204


async def test_notification_history_is_filtered_and_paginated(h: Any, programme: Any) -> None:
    team = [programme.surgeon_id, programme.anaesthetist_id]
    contacts = [await h.contact(kind="practitioner", practitioner_id=str(p), email=f"m{i}@example.it")
                for i, p in enumerate(team)]
    host = await h.contact(kind="institution", institution_id=str(programme.cmci), email="direction@cmci.dz",
                           webhook_url=f"{h.http.url}/hooks/cmci", webhook_secret=SECRET)
    scheduled, completed = programme.mission_scheduled(), programme.mission_completed()
    await h.publish(scheduled)
    await h.settled(4, cause_event_id=str(scheduled.id))
    await h.publish(completed)
    await h.settled(2, cause_event_id=str(completed.id))  # the team; the host hears of plans only

    everything = (await h.client.get("/notifications")).json()
    assert everything["total"] == 6
    assert [n["cause_type"] for n in everything["items"]][:2] == ["MissionCompleted"] * 2, "newest first"
    seen = []
    for offset in (0, 4):
        page = (await h.client.get("/notifications", params={"limit": 4, "offset": offset})).json()
        assert page["total"] == 6 and page["limit"] == 4 and page["offset"] == offset
        seen += [n["id"] for n in page["items"]]
    assert sorted(seen) == sorted(n["id"] for n in everything["items"])

    mine = await h.notifications(recipient_ref=host["recipient_ref"])
    assert sorted(n["channel"] for n in mine) == ["email", "webhook"]
    assert len(await h.notifications(recipient_ref=contacts[0]["recipient_ref"])) == 2
    assert len(await h.notifications(cause_event_id=str(completed.id))) == 2
    assert len(await h.notifications(status="sent")) == 6
    assert await h.notifications(status="failed") == []
    one = await h.client.get(f"/notifications/{mine[0]['id']}")
    assert one.json() == mine[0]
    for params in ({"status": "lost"}, {"limit": 0}, {"limit": 201}, {"offset": -1}, {"cause_event_id": "x"}):
        assert (await h.client.get("/notifications", params=params)).status_code == 422, params


async def test_deleting_a_contact_or_withdrawing_consent_cancels_what_was_not_sent(
    notification_service: Any, programme: Any
) -> None:
    async with notification_service(delivery_retry_delays=[60]) as h:  # the retry would come after the test
        h.http.script["/hooks/cmci"] = [503]
        h.http.script["/sms"] = [503]
        host = await h.contact(kind="institution", institution_id=str(programme.cmci),
                               webhook_url=f"{h.http.url}/hooks/cmci", webhook_secret=SECRET)
        family = await h.family(programme.patient_ref, phone="+213555123456")
        await h.given(programme.mission_scheduled(), programme.surgery_scheduled())

        async def waiting(ref: str) -> bool:
            items = await h.notifications(recipient_ref=ref)
            return bool(items) and items[0]["status"] == "pending" and items[0]["attempts"] == 1

        from jumelage.testkit.waiting import eventually

        await eventually(lambda: waiting(host["recipient_ref"]))
        await eventually(lambda: waiting(family["recipient_ref"]))
        assert (await h.client.delete(f"/contacts/{host['id']}")).status_code == 204
        assert (await h.client.delete(f"/contacts/{family['id']}/consent")).status_code == 200
        for ref in (host["recipient_ref"], family["recipient_ref"]):
            (item,) = await h.notifications(recipient_ref=ref)
            assert item["status"] == "cancelled", "the history stays, under a ref that names nobody"


def test_openapi_and_asyncapi_list_the_routes_and_events() -> None:
    import notification.app

    app = notification.app.create_app(notification.app.Settings())
    paths = app.openapi()["paths"]
    assert set(paths["/contacts"]) == {"get", "post"}
    assert set(paths["/contacts/{contact_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/contacts/{contact_id}/consent"]) == {"post", "delete"}
    assert set(paths["/contacts/{contact_id}/subscriptions"]) == {"get", "post"}
    assert set(paths["/templates/{event_type}/{language}/{channel}"]) == {"get", "put", "delete"}
    assert "get" in paths["/notifications"] and "get" in paths["/reminders"]
    assert "/institutions/{institution_id}" in paths
    channels = app.state.runtime.catalogue()["channels"]
    assert "notification.sent" in channels
    assert "notification.failed" in channels


async def test_a_coordinator_naming_another_institution_in_a_contact_filter_is_refused(h: Any) -> None:
    KEEPER = h.keeper

    from jumelage.testkit.client import bearer

    other = uuid.uuid4()
    await h.contact(kind="institution", institution_id=str(other), email="direction@other.dz")
    own = await h.contact(kind="institution", institution_id=str(KEEPER), email="direction@keeper.dz")
    coordinator = bearer("coordinator", institution=KEEPER, subject="coord-keeper")
    for params in ({"institution_id": str(other)}, {"managed_by": str(other)},
                   {"kind": "institution", "institution_id": str(other)}):
        r = await h.client.get("/contacts", params=params, headers=coordinator)
        assert r.status_code == 403, (params, r.status_code, r.text)
        assert "may not list the contact" in r.json()["detail"] and str(other) in r.json()["detail"]
    # Its own institution's contact it lists; the administrator lists any.
    mine = await h.client.get("/contacts", params={"institution_id": str(KEEPER)}, headers=coordinator)
    assert [c["id"] for c in mine.json()["items"]] == [own["id"]]
    theirs = await h.client.get("/contacts", params={"institution_id": str(other)})
    assert theirs.status_code == 200 and theirs.json()["total"] == 1
