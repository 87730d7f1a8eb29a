"""Incoming events about the programme: this service's replica of conventions,
missions and surgeries, their reminders, and the notifications each event causes.

They run in the consumer's transaction and create *pending* notifications there
(the inbox makes that idempotent, the unique key (cause, recipient, channel)
makes it so twice over). Sending is the delivery worker's job, after commit
(``handlers/delivery.py``).
"""

from __future__ import annotations

from typing import Any

from jumelage import context
from jumelage.clock import Clock
from jumelage.events import (
    CloudEvent, ConventionAmended, ConventionSigned, MissionRescheduled, MissionScheduled, SurgeryCancelled,
    SurgeryCompleted, SurgeryFollowedUp, SurgeryOutcome, SurgeryRescheduled, SurgeryResumed, SurgeryScheduled,
    SurgerySuspended,
)
from notification.adapters.templates import TemplateRenderer
from notification.domain.delivery import RetryPolicy
from notification.domain.programme import (
    ConventionParty, Facts, KnownConvention, KnownMission, KnownSite, KnownSurgery, PlanStatus, TeamMember,
)
from notification.domain.reminders import ReminderKind, ReminderPolicy
from notification.domain.routing import Occurrence
from notification.handlers.notify import HandOver, notify_event, surgery_facts
from notification.handlers.reminders import sync_reminder
from notification.store.unit_of_work import NotificationUnitOfWork

HOLD_CHANGES = frozenset({"MissionSuspended", "MissionResumed", "MissionCancelled"})
"""Mission events that change whether its surgeries' reminders may go out."""


async def on_convention_signed(event: CloudEvent[ConventionSigned], uow: NotificationUnitOfWork, *, clock: Clock,
                               wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy,
                               hand_over: HandOver) -> None:
    d = event.data
    convention = await uow.conventions.get(d.convention_id, lock=True) or KnownConvention(d.convention_id)
    convention.reference, convention.title = d.reference, d.title
    convention.parties = tuple(ConventionParty(p.institution_id, p.role.value) for p in d.parties)
    await uow.conventions.save(convention)
    await notify_event(event, uow, Occurrence(event.type, Facts(convention=convention)),
                       clock=clock, wall=wall, renderer=renderer, retry=retry, hand_over=hand_over)


async def on_convention_amended(event: CloudEvent[ConventionAmended], uow: NotificationUnitOfWork, *, clock: Clock,
                                wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy,
                                hand_over: HandOver) -> None:
    d = event.data
    convention = await uow.conventions.get(d.convention_id, lock=True) or KnownConvention(d.convention_id)
    changes = d.changes
    if "parties" in changes:
        convention.parties = tuple(ConventionParty(p.institution_id, p.role.value) for p in changes["parties"])
    convention.reference = changes.get("reference", convention.reference)
    convention.title = changes.get("title", convention.title)
    await uow.conventions.save(convention)
    await notify_event(event, uow, Occurrence(event.type, Facts(convention=convention)),
                       clock=clock, wall=wall, renderer=renderer, retry=retry, hand_over=hand_over)


async def on_convention_status(event: CloudEvent[Any], uow: NotificationUnitOfWork, *, clock: Clock, wall: Clock,
                               renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver) -> None:
    """Suspended, resumed, terminated, expired: nobody by default; subscribers are told."""
    convention_id = event.data.convention_id
    convention = await uow.conventions.get(convention_id, lock=True)
    if convention is not None:
        convention.status = event.type.removeprefix("Convention").lower()
        await uow.conventions.save(convention)
    await notify_event(event, uow, Occurrence(event.type, Facts(convention=convention), convention_id=convention_id),
                       clock=clock, wall=wall, renderer=renderer, retry=retry, hand_over=hand_over)


async def on_mission_scheduled(event: CloudEvent[MissionScheduled], uow: NotificationUnitOfWork, *, clock: Clock,
                               wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                               reminders: ReminderPolicy) -> None:
    d = event.data
    mission = await uow.missions.get(d.mission_id, lock=True) or KnownMission(d.mission_id)
    mission.convention_id, mission.specialty = d.convention_id, d.specialty
    mission.host_institution_id, mission.visiting_institution_id = d.host_institution_id, d.visiting_institution_id
    mission.team = tuple(TeamMember(m.practitioner_id, m.full_name, m.role.value) for m in d.team)
    mission.plan(d.starts_on, d.ends_on, event.time)
    mission.take_sites(_sites(d.sites), event.time)  # none listed: the host alone
    await _mission_changed(event, mission, uow, reminders=reminders, clock=clock, wall=wall,
                           renderer=renderer, retry=retry, hand_over=hand_over)


async def on_mission_rescheduled(event: CloudEvent[MissionRescheduled], uow: NotificationUnitOfWork, *, clock: Clock,
                                 wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                                 reminders: ReminderPolicy) -> None:
    d = event.data
    mission = await uow.missions.get(d.mission_id, lock=True) or KnownMission(d.mission_id)
    mission.plan(d.starts_on, d.ends_on, event.time)
    if getattr(d, "sites", None) is not None:  # the sites' days moved with it
        mission.take_sites(_sites(d.sites), event.time)
    await _mission_changed(event, mission, uow, reminders=reminders, clock=clock, wall=wall,
                           renderer=renderer, retry=retry, hand_over=hand_over)


async def on_mission_sites_changed(event: CloudEvent[Any], uow: NotificationUnitOfWork, *, clock: Clock,
                                  wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                                  reminders: ReminderPolicy) -> None:
    """A host site added or removed, or the mission's days at one changed: the replica keeps every
    site the event lists (unless a newer event's are known), so that what happens at a site is
    told to that site's contacts. Nobody is told by default; subscribers are."""
    d = event.data
    mission = await uow.missions.get(d.mission_id, lock=True) or KnownMission(d.mission_id)
    mission.convention_id = mission.convention_id or d.convention_id
    mission.take_sites(_sites(d.sites), event.time)
    await uow.missions.save(mission)
    facts = Facts(mission=mission, convention=await uow.conventions.get(mission.convention_id))
    await notify_event(event, uow, Occurrence(event.type, facts, institution_id=d.institution_id),
                       clock=clock, wall=wall, renderer=renderer, retry=retry, hand_over=hand_over)


def _sites(sites: Any) -> tuple[KnownSite, ...]:
    return tuple(KnownSite(s.institution_id, s.starts_on, s.ends_on) for s in sites or ())


async def on_mission_status(event: CloudEvent[Any], uow: NotificationUnitOfWork, *, clock: Clock, wall: Clock,
                            renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                            reminders: ReminderPolicy) -> None:
    """Cancelled, started, completed, put on hold, released (whatever the contract adds)."""
    status = {
        "MissionCancelled": PlanStatus.cancelled, "MissionStarted": PlanStatus.started,
        "MissionCompleted": PlanStatus.completed, "MissionSuspended": PlanStatus.on_hold,
        "MissionResumed": PlanStatus.scheduled,
    }.get(event.type)
    d = event.data
    mission = await uow.missions.get(d.mission_id, lock=True) or KnownMission(d.mission_id)
    if mission.convention_id is None:
        mission.convention_id = getattr(d, "convention_id", None)
    if status is not None:
        if status is PlanStatus.scheduled and mission.status is PlanStatus.on_hold:
            mission.status = status  # released: the only way back from a hold
        elif status is not PlanStatus.scheduled:
            mission.move_to(status)
    await _mission_changed(event, mission, uow, reminders=reminders, clock=clock, wall=wall,
                           renderer=renderer, retry=retry, hand_over=hand_over)


async def _mission_changed(event: CloudEvent[Any], mission: KnownMission, uow: NotificationUnitOfWork, *,
                           clock: Clock, wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy,
                           hand_over: HandOver, reminders: ReminderPolicy) -> None:
    new = await uow.missions.save(mission)
    starts_at = reminders.mission_start(mission.starts_on) if mission.starts_on else None
    await sync_reminder(uow, ReminderKind.mission, mission.id, starts_at if mission.active else None, new_subject=new,
                        clock=clock, reminders=reminders)
    if not new and event.type in HOLD_CHANGES:
        # The surgeries' reminders follow the mission's hold, even if their own events are late (or
        # never come, from a scheduling service older than SurgerySuspended). The mission row is
        # locked first here and in the surgeries' handlers, so the two never miss each other.
        for surgery in await uow.surgeries.of_mission(mission.id):
            await sync_reminder(uow, ReminderKind.surgery, surgery.id, surgery.reminder_start(mission),
                                new_subject=False, clock=clock, reminders=reminders)
    facts = Facts(mission=mission, convention=await uow.conventions.get(
        mission.convention_id or getattr(event.data, "convention_id", None)))
    await notify_event(event, uow, Occurrence(event.type, facts),
                       clock=clock, wall=wall, renderer=renderer, retry=retry, hand_over=hand_over)


async def on_mission_team_changed(event: CloudEvent[Any], uow: NotificationUnitOfWork, *, clock: Clock,
                                  wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                                  reminders: ReminderPolicy) -> None:
    """A member added, removed, or whose on-site dates changed: the roster kept here becomes the
    event's (the mission's reminder goes to it), and that member is told, in their language."""
    d = event.data
    mission = await uow.missions.get(d.mission_id, lock=True) or KnownMission(d.mission_id)
    mission.convention_id = mission.convention_id or d.convention_id
    before = {m.practitioner_id: m for m in mission.team}
    mission.team = tuple(TeamMember(m.practitioner_id, m.full_name, m.role.value) for m in d.team)
    await uow.missions.save(mission)
    member = next((m for m in d.team if m.practitioner_id == d.practitioner_id), None)
    known = before.get(d.practitioner_id)
    extra = {"change": d.change.value,
             "member": {"full_name": member.full_name if member else (known.full_name if known else ""),
                        "arrives_on": (member.arrives_on if member else None) or mission.starts_on,
                        "leaves_on": (member.leaves_on if member else None) or mission.ends_on}}
    facts = Facts(mission=mission, convention=await uow.conventions.get(mission.convention_id))
    await notify_event(event, uow, Occurrence(event.type, facts, practitioners=frozenset({d.practitioner_id})),
                       clock=clock, wall=wall, renderer=renderer, retry=retry, hand_over=hand_over, extra=extra)


async def on_surgery_lead_changed(event: CloudEvent[Any], uow: NotificationUnitOfWork, *, clock: Clock,
                                  wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                                  reminders: ReminderPolicy) -> None:
    """Another surgeon leads a surgery: the replica's lead is the new one (the day-before
    reminder goes to them), and both the new and the previous lead are told."""
    d = event.data
    surgery = await uow.surgeries.get(d.surgery_id, lock=True) or KnownSurgery(d.surgery_id)
    surgery.mission_id = surgery.mission_id or d.mission_id
    # The newest lead by event time: a lead change older than one known (or than the scheduling
    # that came after it) does not overwrite it.
    surgery.take_lead(d.lead_surgeon_id, event.time, changed=True)
    await uow.surgeries.save(surgery)
    facts = await surgery_facts(uow, surgery)
    names = {m.practitioner_id: m.full_name for m in (facts.mission.team if facts.mission else ())}
    extra = {"lead": names.get(d.lead_surgeon_id, ""), "previous_lead": names.get(d.previous_lead_surgeon_id, "")}
    occurrence = Occurrence(event.type, facts,
                            practitioners=frozenset({d.lead_surgeon_id, d.previous_lead_surgeon_id}))
    await notify_event(event, uow, occurrence, clock=clock, wall=wall, renderer=renderer, retry=retry,
                       hand_over=hand_over, extra=extra)


async def on_surgery_scheduled(event: CloudEvent[SurgeryScheduled], uow: NotificationUnitOfWork, *, clock: Clock,
                               wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                               reminders: ReminderPolicy) -> None:
    d = event.data
    surgery = await uow.surgeries.get(d.surgery_id, lock=True) or KnownSurgery(d.surgery_id)
    surgery.mission_id, surgery.convention_id, surgery.patient_ref = d.mission_id, d.convention_id, d.patient_ref
    surgery.procedure = d.procedure
    surgery.take_lead(d.lead_surgeon_id, event.time, changed=False)  # unless a newer lead change came first
    surgery.site_institution_id = d.site_institution_id or surgery.site_institution_id
    surgery.plan(d.operating_room, d.scheduled_start, event.time)
    await _surgery_changed(event, surgery, uow, reminders=reminders, clock=clock, wall=wall,
                           renderer=renderer, retry=retry, hand_over=hand_over)


async def on_surgery_rescheduled(event: CloudEvent[SurgeryRescheduled], uow: NotificationUnitOfWork, *, clock: Clock,
                                 wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                                 reminders: ReminderPolicy) -> None:
    d = event.data
    surgery = await uow.surgeries.get(d.surgery_id, lock=True) or KnownSurgery(d.surgery_id)
    surgery.plan(d.operating_room, d.scheduled_start, event.time)
    surgery.site_institution_id = d.site_institution_id or surgery.site_institution_id
    await _surgery_changed(event, surgery, uow, reminders=reminders, clock=clock, wall=wall,
                           renderer=renderer, retry=retry, hand_over=hand_over)


async def on_surgery_cancelled(event: CloudEvent[SurgeryCancelled], uow: NotificationUnitOfWork, *, clock: Clock,
                               wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                               reminders: ReminderPolicy) -> None:
    d = event.data
    surgery = await uow.surgeries.get(d.surgery_id, lock=True) or KnownSurgery(d.surgery_id, mission_id=d.mission_id)
    surgery.move_to(PlanStatus.cancelled)
    await _surgery_changed(event, surgery, uow, reminders=reminders, clock=clock, wall=wall,
                           renderer=renderer, retry=retry, hand_over=hand_over)


async def on_surgery_suspended(event: CloudEvent[SurgerySuspended], uow: NotificationUnitOfWork, *, clock: Clock,
                               wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                               reminders: ReminderPolicy) -> None:
    """On hold with its mission: its reminder is cancelled; the family and the lead surgeon are told."""
    d = event.data
    surgery = await _surgery_of(uow, d)
    surgery.plan(d.operating_room, d.scheduled_start, event.time)
    surgery.move_to(PlanStatus.on_hold)
    await _surgery_changed(event, surgery, uow, reminders=reminders, clock=clock, wall=wall,
                           renderer=renderer, retry=retry, hand_over=hand_over)


async def on_surgery_resumed(event: CloudEvent[SurgeryResumed], uow: NotificationUnitOfWork, *, clock: Clock,
                             wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                             reminders: ReminderPolicy) -> None:
    """Scheduled again: its reminder is armed again; the family is told whether its date stands."""
    d = event.data
    surgery = await _surgery_of(uow, d)
    before = surgery.scheduled_start
    surgery.plan(d.operating_room, d.scheduled_start, event.time)
    surgery.release()
    await _surgery_changed(event, surgery, uow, reminders=reminders, clock=clock, wall=wall,
                           renderer=renderer, retry=retry, hand_over=hand_over,
                           extra={"date_stands": before is None or before == d.scheduled_start,
                                  "previous_start": before})


async def _surgery_of(uow: NotificationUnitOfWork, d: SurgerySuspended | SurgeryResumed) -> KnownSurgery:
    """The replica, locked, filled in from the event where it was not known yet."""
    surgery = await uow.surgeries.get(d.surgery_id, lock=True) or KnownSurgery(d.surgery_id)
    surgery.mission_id = surgery.mission_id or d.mission_id
    surgery.convention_id = surgery.convention_id or d.convention_id
    surgery.patient_ref = surgery.patient_ref or d.patient_ref
    return surgery


async def on_surgery_completed(event: CloudEvent[SurgeryCompleted], uow: NotificationUnitOfWork, *, clock: Clock,
                               wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                               reminders: ReminderPolicy) -> None:
    d = event.data
    surgery = await uow.surgeries.get(d.surgery_id, lock=True) or KnownSurgery(d.surgery_id)
    surgery.mission_id = surgery.mission_id or d.mission_id
    surgery.convention_id = surgery.convention_id or d.convention_id
    surgery.patient_ref = surgery.patient_ref or d.patient_ref
    surgery.procedure = surgery.procedure or d.procedure
    surgery.site_institution_id = getattr(d, "site_institution_id", None) or surgery.site_institution_id
    surgery.move_to(PlanStatus.completed)
    surgery.completed_at, surgery.lead_side = d.completed_at, d.lead_side.value if d.lead_side else None
    await _surgery_changed(event, surgery, uow, reminders=reminders, clock=clock, wall=wall,
                           renderer=renderer, retry=retry, hand_over=hand_over)
    # Day 30: the responsible clinicians are reminded to record the follow-up (none after a death
    # at surgery; none if the follow-up is recorded first, see on_surgery_followed_up).
    now = clock.now()
    plan = (None if d.outcome is SurgeryOutcome.deceased or surgery.followed_up
            else reminders.follow_up(surgery.id, d.completed_at, now))
    await uow.reminders.reconcile(ReminderKind.follow_up, surgery.id, plan, correlation_id=context.correlation_id.get(),
                                  now=now)


async def on_surgery_followed_up(event: CloudEvent[SurgeryFollowedUp], uow: NotificationUnitOfWork, *,
                                 clock: Clock, wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy,
                                 hand_over: HandOver) -> None:
    """The follow-up is recorded: its day-30 reminder is not needed any more (cancelled if not yet
    sent); nobody is told by default (subscribers are). The event carries no patient identity."""
    d = event.data
    surgery = await uow.surgeries.get(d.surgery_id, lock=True) or KnownSurgery(d.surgery_id)
    surgery.mission_id = surgery.mission_id or d.mission_id
    surgery.convention_id = surgery.convention_id or d.convention_id
    surgery.completed_at = surgery.completed_at or d.completed_at
    surgery.move_to(PlanStatus.completed)  # followed up: it was completed, whatever came first
    surgery.followed_up = True
    await uow.surgeries.save(surgery)
    await uow.reminders.reconcile(ReminderKind.follow_up, d.surgery_id, None,
                                  correlation_id=context.correlation_id.get(), now=clock.now())
    facts = await surgery_facts(uow, surgery)
    await notify_event(event, uow, Occurrence(event.type, facts, convention_id=d.convention_id),
                       clock=clock, wall=wall, renderer=renderer, retry=retry, hand_over=hand_over)


async def _surgery_changed(event: CloudEvent[Any], surgery: KnownSurgery, uow: NotificationUnitOfWork, *,
                           clock: Clock, wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy,
                           hand_over: HandOver, reminders: ReminderPolicy,
                           extra: dict[str, Any] | None = None) -> None:
    new = await uow.surgeries.save(surgery)
    # Its mission locked (after the surgery, the order every surgery event takes): a hold or a
    # release of the mission handled at the same time is seen here, or sees this surgery.
    mission = await uow.missions.get(surgery.mission_id, lock=True)
    await sync_reminder(uow, ReminderKind.surgery, surgery.id, surgery.reminder_start(mission),
                        new_subject=new, clock=clock, reminders=reminders)
    await notify_event(event, uow, Occurrence(event.type, await surgery_facts(uow, surgery)),
                       clock=clock, wall=wall, renderer=renderer, retry=retry, hand_over=hand_over, extra=extra)


async def on_consultation_hold(event: CloudEvent[Any], uow: NotificationUnitOfWork, *, clock: Clock, wall: Clock,
                               renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver) -> None:
    """A consultation on hold with its mission, or planned again: the patient's family is told."""
    await on_activity(event, uow, clock=clock, wall=wall, renderer=renderer, retry=retry, hand_over=hand_over)


async def on_activity(event: CloudEvent[Any], uow: NotificationUnitOfWork, *, clock: Clock, wall: Clock,
                      renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver) -> None:
    """Consultations and training sessions: nobody by default; subscribers are told."""
    d = event.data
    facts = Facts(mission=await uow.missions.get(d.mission_id), convention=await uow.conventions.get(d.convention_id))
    await notify_event(event, uow, Occurrence(event.type, facts, convention_id=d.convention_id,
                                              patient_ref=getattr(d, "patient_ref", None)),
                       clock=clock, wall=wall, renderer=renderer, retry=retry, hand_over=hand_over)


