"""A mission at several host sites, and events that overtake each other (issue 19), through the
real broker on SQLite and PostgreSQL. The replica keeps each mission's sites (``MissionScheduled``,
``MissionRescheduled`` and ``MissionSitesChanged``, the newest by event time) and each surgery's
site: the day-30 follow-up reminder goes to the contacts of the surgery's site (the mission's host
where it names none), a mission's plan changes to every site's. A surgery's lead is the newest by
event time: a ``SurgeryScheduled`` or an older ``SurgeryLeadChanged`` arriving late does not
overwrite a newer lead."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from jumelage.clock import FixedClock
from jumelage.events import InstitutionRegistered, MissionScheduled, SurgeryCompleted, SurgeryRescheduled, \
    SurgeryScheduled, registry

# Completed 27 May 2031 12:00Z: day 30 is 26 June, at 09:00 Algiers.
FOLLOW_UP_AT = datetime(2031, 6, 26, 8, 0, tzinfo=UTC)
T0 = datetime(2031, 5, 20, 8, 0, tzinfo=UTC)


def clock() -> FixedClock:
    return FixedClock(datetime(2031, 5, 27, 12, 30, tzinfo=UTC), "Africa/Algiers")


def tiaret(p: Any) -> tuple[uuid.UUID, Any]:
    institution = uuid.uuid4()
    return institution, p.envelope(InstitutionRegistered(institution_id=institution, name="EPH Tiaret",
                                                         kind="hospital", country="DZ", city="Tiaret"))


def sites(p: Any, *others: uuid.UUID) -> list[dict[str, Any]]:
    first, last = p.mission_starts, p.mission_starts + timedelta(days=4)
    return [{"institution_id": i, "starts_on": first, "ends_on": last} for i in (p.cmci, *others)]


def scheduled_at_sites(p: Any, *others: uuid.UUID, time: datetime | None = None) -> Any:
    base = p.mission_scheduled().data.model_dump()
    return p.envelope(MissionScheduled(**{**base, "sites": sites(p, *others)}), **({"time": time} if time else {}))


def sites_changed(p: Any, change: str, institution: uuid.UUID, listed: list[dict[str, Any]], time: datetime) -> Any:
    return p.envelope(registry.by_type("MissionSitesChanged")(
        mission_id=p.mission_id, convention_id=p.convention_id, change=change, institution_id=institution,
        sites=listed), time=time)


def surgery_at(p: Any, site: uuid.UUID | None, time: datetime | None = None) -> Any:
    base = p.surgery_scheduled().data.model_dump()
    return p.envelope(SurgeryScheduled(**{**base, "site_institution_id": site}), **({"time": time} if time else {}))


def completed_at(p: Any, site: uuid.UUID | None) -> Any:
    return p.envelope(SurgeryCompleted(
        surgery_id=p.surgery_id, mission_id=p.mission_id, convention_id=p.convention_id, patient_ref=p.patient_ref,
        procedure="Fermeture de CIV", completed_at=datetime(2031, 5, 27, 12, 0, tzinfo=UTC), duration_minutes=260,
        outcome="successful", previously_referred_abroad=True, lead_side="visiting", site_institution_id=site))


async def test_the_day_30_reminder_goes_to_the_surgerys_site(notification_service: Any, programme: Any) -> None:
    c = clock()
    t, registered = tiaret(programme)
    async with notification_service(clock=c) as h:
        host = await h.contact(kind="institution", institution_id=str(programme.cmci), email="chir@cmci.dz")
        site = await h.contact(kind="institution", institution_id=str(t), email="chirurgie@eph-tiaret.dz",
                               language="fr")
        await h.given(*programme.institutions(), registered, programme.convention_signed(),
                      scheduled_at_sites(programme, t), surgery_at(programme, t), completed_at(programme, t))
        c.at = FOLLOW_UP_AT
        (reminded,) = await h.settled(1, cause_type="FollowUpReminder")
        assert reminded["recipient_ref"] == site["recipient_ref"], "Tiaret's contacts, not the mission's host's"
        await h.quiet()
        assert host["recipient_ref"] not in {n["recipient_ref"] for n in
                                             await h.notifications(cause_type="FollowUpReminder")}


async def test_a_surgery_naming_no_site_reminds_the_missions_host(notification_service: Any,
                                                                   programme: Any) -> None:
    c = clock()
    t, registered = tiaret(programme)
    async with notification_service(clock=c) as h:
        host = await h.contact(kind="institution", institution_id=str(programme.cmci), email="chir@cmci.dz")
        await h.contact(kind="institution", institution_id=str(t), email="chirurgie@eph-tiaret.dz")
        await h.given(*programme.institutions(), registered, programme.convention_signed(),
                      scheduled_at_sites(programme, t), surgery_at(programme, None), completed_at(programme, None))
        c.at = FOLLOW_UP_AT
        (reminded,) = await h.settled(1, cause_type="FollowUpReminder")
        assert reminded["recipient_ref"] == host["recipient_ref"]


async def test_a_site_added_by_mission_sites_changed_hears_of_the_missions_plan(notification_service: Any,
                                                                                programme: Any) -> None:
    t, registered = tiaret(programme)
    async with notification_service(clock=clock()) as h:
        site = await h.contact(kind="institution", institution_id=str(t), email="chirurgie@eph-tiaret.dz")
        await h.given(*programme.institutions(), registered, programme.convention_signed(),
                      programme.envelope(programme.mission_scheduled().data, time=T0))
        await h.quiet()
        assert not await h.notifications(recipient_ref=site["recipient_ref"]), "not a site yet"
        # Tiaret added (told to nobody by default), then the mission moved: Tiaret is told of it.
        await h.given(sites_changed(programme, "site_added", t, sites(programme, t), T0 + timedelta(hours=1)))
        await h.given(programme.envelope(programme.mission_rescheduled(
            date(2031, 5, 27), date(2031, 5, 31)).data, time=T0 + timedelta(hours=2)))
        (told,) = await h.settled(1, cause_type="MissionRescheduled", recipient_ref=site["recipient_ref"])
        assert told["template"].startswith("MissionRescheduled/")
        assert not await h.notifications(cause_type="MissionSitesChanged")
        # Removed (an event newer than every other): no longer told.
        await h.given(sites_changed(programme, "site_removed", t, sites(programme), T0 + timedelta(hours=3)))
        await h.given(programme.mission_cancelled())
        await h.quiet()
        assert not await h.notifications(cause_type="MissionCancelled", recipient_ref=site["recipient_ref"])


async def test_a_sites_change_that_overtakes_the_missions_scheduling_is_kept(notification_service: Any,
                                                                            programme: Any) -> None:
    t, registered = tiaret(programme)
    async with notification_service(clock=clock()) as h:
        site = await h.contact(kind="institution", institution_id=str(t), email="chirurgie@eph-tiaret.dz")
        # Tiaret added at T0+1h arrives first; the MissionScheduled of T0 (its host alone) after it.
        await h.given(*programme.institutions(), registered, programme.convention_signed(),
                      sites_changed(programme, "site_added", t, sites(programme, t), T0 + timedelta(hours=1)),
                      programme.envelope(programme.mission_scheduled().data, time=T0))
        await h.given(programme.mission_cancelled())
        (told,) = await h.settled(1, cause_type="MissionCancelled", recipient_ref=site["recipient_ref"])
        assert told["status"] in ("sent", "pending", "sending")


def lead_changed(p: Any, previous: uuid.UUID, lead: uuid.UUID, time: datetime) -> Any:
    return p.envelope(registry.by_type("SurgeryLeadChanged")(
        surgery_id=p.surgery_id, mission_id=p.mission_id, previous_lead_surgeon_id=previous,
        lead_surgeon_id=lead, reason="Renfort"), time=time)


def rescheduled(p: Any, time: datetime) -> Any:
    return p.envelope(SurgeryRescheduled(surgery_id=p.surgery_id, operating_room="Bloc 1",
                                         scheduled_start=p.surgery_start + timedelta(hours=3),
                                         reason="bloc indisponible"), time=time)


async def _leads_told_of_a_move(h: Any, p: Any, *arrivals: Any, move_at: datetime) -> set[str]:
    """Deliver ``arrivals`` in that order, then a move newer than them all: whom it tells (the lead)."""
    await h.given(*p.institutions(), p.convention_signed(), p.envelope(p.mission_scheduled().data, time=T0))
    for envelope in arrivals:
        await h.given(envelope)
    await h.given(rescheduled(p, move_at))
    return {n["recipient_ref"] for n in await h.settled(1, cause_type="SurgeryRescheduled")}


async def test_a_lead_change_that_overtakes_its_surgery_scheduled_is_kept(notification_service: Any,
                                                                         programme: Any) -> None:
    p = programme
    newcomer = uuid.uuid4()
    async with notification_service(clock=clock()) as h:
        first = await h.contact(kind="practitioner", practitioner_id=str(p.surgeon_id), email="a@gsd.it")
        second = await h.contact(kind="practitioner", practitioner_id=str(newcomer), email="k@chu-oran.dz")
        told = await _leads_told_of_a_move(h, p, lead_changed(p, p.surgeon_id, newcomer, T0 + timedelta(hours=2)),
                                           surgery_at(p, None, time=T0 + timedelta(hours=1)),
                                           move_at=T0 + timedelta(hours=3))
        assert told == {second["recipient_ref"]}, "the newer lead stands; the late SurgeryScheduled does not undo it"
        assert first["recipient_ref"] not in told


async def test_a_lead_change_in_order_is_taken(notification_service: Any, programme: Any) -> None:
    p = programme
    newcomer = uuid.uuid4()
    async with notification_service(clock=clock()) as h:
        await h.contact(kind="practitioner", practitioner_id=str(p.surgeon_id), email="a@gsd.it")
        second = await h.contact(kind="practitioner", practitioner_id=str(newcomer), email="k@chu-oran.dz")
        # In order, and even at the same instant as the scheduling (a lead change can only follow it).
        told = await _leads_told_of_a_move(h, p, surgery_at(p, None, time=T0 + timedelta(hours=1)),
                                           lead_changed(p, p.surgeon_id, newcomer, T0 + timedelta(hours=1)),
                                           move_at=T0 + timedelta(hours=3))
        assert told == {second["recipient_ref"]}


async def test_an_older_lead_change_or_move_arriving_late_leaves_the_newer_lead(notification_service: Any,
                                                                                programme: Any) -> None:
    p = programme
    b, c = uuid.uuid4(), uuid.uuid4()
    async with notification_service(clock=clock()) as h:
        await h.contact(kind="practitioner", practitioner_id=str(b), email="b@chu-oran.dz")
        third = await h.contact(kind="practitioner", practitioner_id=str(c), email="c@chu-oran.dz")
        # A -> B at T0+2h, B -> C at T0+4h: the second arrives first, then the first, then an older move.
        told = await _leads_told_of_a_move(h, p, surgery_at(p, None, time=T0 + timedelta(hours=1)),
                                           lead_changed(p, b, c, T0 + timedelta(hours=4)),
                                           lead_changed(p, p.surgeon_id, b, T0 + timedelta(hours=2)),
                                           move_at=T0 + timedelta(hours=3))
        assert told == {third["recipient_ref"]}, "C leads: the older change to B arrived late"
