"""Reminders: the day before (planned from the replica's starts) and on day 30 after a surgery
(its follow-up); fired by the reminder job, listed."""

from __future__ import annotations

import uuid
from datetime import datetime

from jumelage import context
from jumelage.clock import Clock
from notification.adapters.templates import TemplateRenderer
from notification.domain.commands import FindReminders, FireDueReminders
from notification.domain.delivery import RetryPolicy
from notification.domain.programme import Facts
from notification.domain.reminders import Reminder, ReminderKind, ReminderPolicy
from notification.domain.routing import Occurrence
from notification.handlers.notify import HandOver, notify, surgery_facts
from notification.store.unit_of_work import NotificationUnitOfWork


async def sync_reminder(uow: NotificationUnitOfWork, kind: ReminderKind, subject_id: uuid.UUID,
                        starts_at: datetime | None, *, new_subject: bool, clock: Clock,
                        reminders: ReminderPolicy) -> None:
    """Plan the reminder for the subject's current start (none if cancelled, on hold or past)."""
    now = clock.now()
    plan = reminders.plan(kind, subject_id, starts_at, now) if starts_at else None
    await uow.reminders.reconcile(kind, subject_id, plan, correlation_id=context.correlation_id.get(), now=now,
                                  new_subject=new_subject)


async def fire_due_reminders(cmd: FireDueReminders, uow: NotificationUnitOfWork, *, clock: Clock, wall: Clock,
                             renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver) -> int:
    """Turn due reminders into notifications, in one transaction with their
    ``fired`` mark: a reminder is never sent twice, not even across a restart."""
    fired = 0
    async with uow:
        now = clock.now()
        for reminder, correlation_id in await uow.reminders.due(now, cmd.limit):
            if reminder.fire(now):
                with context.chain(correlation=correlation_id, causation=str(reminder.id)):
                    await _notify_reminder(reminder, uow, clock=clock, wall=wall, renderer=renderer, retry=retry,
                                           hand_over=hand_over)
                fired += 1
            await uow.reminders.save(reminder)
        await uow.commit()
    return fired


async def _notify_reminder(reminder: Reminder, uow: NotificationUnitOfWork, *, clock: Clock, wall: Clock,
                           renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver) -> None:
    if reminder.kind is ReminderKind.surgery:
        surgery = await uow.surgeries.get(reminder.subject_id)
        if surgery is None or not surgery.active:
            return
        facts = await surgery_facts(uow, surgery)
        if surgery.reminder_start(facts.mission) is None:
            return  # its mission is on hold: nobody is told "tomorrow"
    elif reminder.kind is ReminderKind.follow_up:
        surgery = await uow.surgeries.get(reminder.subject_id)
        if surgery is None or surgery.followed_up:
            return  # recorded meanwhile: nothing to remind of
        facts = await surgery_facts(uow, surgery)
    else:
        mission = await uow.missions.get(reminder.subject_id)
        if mission is None or not mission.active:
            return
        facts = Facts(mission=mission, convention=await uow.conventions.get(mission.convention_id))
    subject_key = "mission_id" if reminder.kind is ReminderKind.mission else "surgery_id"
    info = {"kind": reminder.kind.value, subject_key: str(reminder.subject_id),
            "due_on": reminder.due_on.isoformat(), "starts_at": _iso(reminder.subject_starts_at)}
    await notify(uow, Occurrence(reminder.kind.occurrence_type, facts), cause_id=reminder.id,
                 subject=f"{subject_key.removesuffix('_id').replace('surgery', 'surgerie')}s/{reminder.subject_id}",
                 event_data=None,
                 webhook_cause={"reminder": info}, clock=clock, wall=wall, renderer=renderer, retry=retry,
                 hand_over=hand_over)


async def find_reminders(query: FindReminders, uow: NotificationUnitOfWork) -> tuple[list[Reminder], int]:
    async with uow:
        return await uow.reminders.search(subject_id=query.subject_id, status=query.status, limit=query.limit,
                                          offset=query.offset)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
