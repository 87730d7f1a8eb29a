"""Repositories: the queries the handlers need, over the tables (``tables.py``), with
the statements on the latency paths built once."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from jumelage.db import keyset, offset_or_cursor
from jumelage.events.notification import Channel
from notification.domain.commands import NotificationFilter
from notification.domain.contacts import Audience, Contact, ContactKind, ContactScope, Language
from notification.domain.delivery import Notification, NotificationStatus, RetryPolicy
from notification.domain.programme import (
    ConventionParty, KnownConvention, KnownMission, KnownSurgery, PlanStatus, TeamMember, KnownSite,
)
from notification.domain.reminders import Reminder, ReminderKind, ReminderStatus
from notification.domain.routing import Candidate, Subscription
from notification.domain.templates import TemplateText
from notification.store.tables import (
    ContactRow, NotificationRow, ReminderRow, SubscriptionRow, TemplateRow,
)
from notification.store.tables import ConventionRow, MissionRow, SurgeryRow


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


# What an attempt changes (``Notification.delivered`` / ``attempt_failed``).
_OUTCOME = frozenset({"status", "attempts", "next_attempt_at", "lease_until", "claim", "last_error", "sent_at"})

# Built once (on the path of every delivery): the outcome, only while the row is still held under
# the claim (``unknown`` included: the worker that began the send knows better than a lease).
_RECORD_ATTEMPT = (
    update(NotificationRow.__table__)
    .where(NotificationRow.__table__.c.id == bindparam("held_id"),
           NotificationRow.__table__.c.claim == bindparam("held_claim"),
           NotificationRow.__table__.c.status.in_([s.value for s in (
               NotificationStatus.sending, NotificationStatus.transmitting, NotificationStatus.unknown)]))
    .values({name: bindparam(f"new_{name}") for name in _OUTCOME})
)


@functools.cache
def _notification_insert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (cause, recipient, channel) DO NOTHING RETURNING id, built once
    per dialect: building it for every notification cost more than running it."""
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = NotificationRow.__table__
    return (upsert(table).on_conflict_do_nothing(index_elements=["cause_event_id", "recipient_ref", "channel"])
            .returning(table.c.id))


@functools.cache
def _reminder_insert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (kind, subject, due date) DO NOTHING, built once per dialect."""
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    return upsert(ReminderRow.__table__).on_conflict_do_nothing(index_elements=["kind", "subject_id", "due_on"])


_REMINDERS_OF = (select(ReminderRow)
                 .where(ReminderRow.kind == bindparam("kind"), ReminderRow.subject_id == bindparam("subject_id"))
                 .with_for_update())


async def _get(session: AsyncSession, model: Any, key: Any, lock: bool) -> Any:
    """A replica row; ``lock`` for one about to change: the consumer handles several
    events at once, and two about the same mission must not both read the old row
    (PostgreSQL; SQLite's write lock already serialises them)."""
    if key is None:
        return None
    return await session.get(model, key, with_for_update=True if lock else None)


# -- repositories -----------------------------------------------------------------------


class _Replicas:
    """Replica rows of one kind by id. It remembers the ids a lookup found
    absent: saving such a new one then costs no second SELECT."""

    model: Any

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._absent: set[uuid.UUID] = set()

    async def _find(self, key: uuid.UUID | None, lock: bool) -> Any:
        row = await _get(self.session, self.model, key, lock)
        if row is None and key is not None:
            self._absent.add(key)
        return row

    async def _write(self, key: uuid.UUID, values: dict[str, Any]) -> bool:
        """Write the replica: onto the row loaded (or found now), else as a new row,
        by a Core insert (an ORM object added and flushed cost more than the
        statement, on the latency path). True if it is new in this transaction."""
        row = None if key in self._absent else await self.session.get(self.model, key)
        self._absent.discard(key)
        if row is None:
            await self.session.execute(insert(self.model.__table__), {"id": key, **values})
            return True
        for name, value in values.items():
            setattr(row, name, value)
        return False


class Conventions(_Replicas):
    model = ConventionRow

    async def get(self, convention_id: uuid.UUID | None, *, lock: bool = False) -> KnownConvention | None:
        row = await self._find(convention_id, lock)
        if row is None:
            return None
        parties = tuple(ConventionParty(uuid.UUID(p["institution_id"]), p["role"]) for p in row.parties)
        return KnownConvention(row.id, row.reference, row.title, parties, row.status)

    async def save(self, c: KnownConvention) -> None:
        await self._write(c.id, {
            "reference": c.reference, "title": c.title, "status": c.status,
            "parties": [{"institution_id": str(p.institution_id), "role": p.role} for p in c.parties]})


class Missions(_Replicas):
    model = MissionRow

    async def get(self, mission_id: uuid.UUID | None, *, lock: bool = False) -> KnownMission | None:
        row = await self._find(mission_id, lock)
        if row is None:
            return None
        team = tuple(TeamMember(uuid.UUID(m["practitioner_id"]), m["full_name"], m["role"]) for m in row.team)
        sites = tuple(KnownSite(uuid.UUID(s["institution_id"]), _day(s.get("starts_on")), _day(s.get("ends_on")))
                      for s in row.sites or ())
        return KnownMission(row.id, row.convention_id, row.host_institution_id, row.visiting_institution_id,
                            row.specialty, row.starts_on, row.ends_on, team, PlanStatus(row.status), row.planned_at,
                            sites, row.sites_at)

    async def save(self, m: KnownMission) -> bool:
        """True if the replica is new (this is the first event of the mission seen here)."""
        return await self._write(m.id, {
            "convention_id": m.convention_id, "host_institution_id": m.host_institution_id,
            "visiting_institution_id": m.visiting_institution_id, "specialty": m.specialty,
            "starts_on": m.starts_on, "ends_on": m.ends_on,
            "team": [{"practitioner_id": str(t.practitioner_id), "full_name": t.full_name, "role": t.role}
                     for t in m.team],
            "status": m.status.value, "planned_at": m.planned_at,
            "sites": [{"institution_id": str(s.institution_id),
                       "starts_on": s.starts_on.isoformat() if s.starts_on else None,
                       "ends_on": s.ends_on.isoformat() if s.ends_on else None} for s in m.sites] or None,
            "sites_at": m.sites_at})


class Surgeries(_Replicas):
    model = SurgeryRow

    async def get(self, surgery_id: uuid.UUID | None, *, lock: bool = False) -> KnownSurgery | None:
        row = await self._find(surgery_id, lock)
        if row is None:
            return None
        return _surgery(row)

    async def of_mission(self, mission_id: uuid.UUID) -> list[KnownSurgery]:
        """The surgeries known here of one mission (unlocked: their reminders follow the mission's hold)."""
        rows = await self.session.scalars(select(SurgeryRow).where(SurgeryRow.mission_id == mission_id)
                                          .order_by(SurgeryRow.id))
        return [_surgery(r) for r in rows]

    async def save(self, s: KnownSurgery) -> bool:
        """True if the replica is new (this is the first event of the surgery seen here)."""
        values = {name: getattr(s, name) for name in (
            "mission_id", "convention_id", "patient_ref", "procedure", "operating_room", "scheduled_start",
            "lead_surgeon_id", "planned_at", "completed_at", "lead_side", "followed_up", "site_institution_id",
            "lead_at")}
        return await self._write(s.id, {**values, "status": s.status.value})


def _surgery(r: SurgeryRow) -> KnownSurgery:
    return KnownSurgery(r.id, r.mission_id, r.convention_id, r.patient_ref, r.procedure, r.operating_room,
                        r.scheduled_start, r.lead_surgeon_id, PlanStatus(r.status), r.planned_at,
                        r.completed_at, r.lead_side, bool(r.followed_up), r.site_institution_id, r.lead_at)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class Contacts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, contact_id: uuid.UUID, *, for_update: bool = False) -> Contact | None:
        """``for_update``: locked until commit (PostgreSQL), as read for a change of it."""
        if not for_update:
            row = await self.session.get(ContactRow, contact_id)
        else:
            row = (await self.session.scalars(
                select(ContactRow).where(ContactRow.id == contact_id).with_for_update()
                .execution_options(populate_existing=True))).first()
        return row.to_domain() if row else None

    async def for_subject(self, kind: ContactKind, subject_ref: str) -> Contact | None:
        row = (await self.session.scalars(
            select(ContactRow).where(ContactRow.kind == kind.value, ContactRow.subject_ref == subject_ref)
        )).first()
        return row.to_domain() if row else None

    async def save(self, contact: Contact, now: datetime) -> None:
        """Write the contact; if it is new or anything of it changed, it gets ``updated_at`` and the
        flush raises its version (``version_id_col``: the UPDATE applies only to the version read,
        a lost race is StaleDataError). The contact takes the version written."""
        row = await self.session.get(ContactRow, contact.id)
        if row is None:
            row = ContactRow(id=contact.id, kind=contact.kind.value, subject_ref=contact.subject_ref,
                             language=contact.language.value, created_at=now, updated_at=now)
            self.session.add(row)
        elif row.version != contact.version:  # read in another transaction, changed since
            raise StaleDataError(f"contact {contact.id} is at version {row.version}, "
                                 f"not the version {contact.version} it was read at")
        row.take(contact)
        if self.session.is_modified(row):
            row.updated_at = now
            await self.session.flush()
        contact.version, contact.updated_at = row.version, row.updated_at

    async def delete(self, contact_id: uuid.UUID) -> None:
        row = await self.session.get(ContactRow, contact_id)
        if row is not None:
            await self.session.delete(row)

    async def created_at(self, contact_id: uuid.UUID) -> tuple[datetime, datetime] | None:
        row = await self.session.get(ContactRow, contact_id)
        return (row.created_at, row.updated_at) if row else None

    async def search(self, *, kind: str | None = None, subject_ref: str | None = None, limit: int = 50,
                     offset: int = 0, visible: ContactScope | None = None) -> tuple[list[Contact], int]:
        query = select(ContactRow)
        if kind:
            query = query.where(ContactRow.kind == kind)
        if visible is not None:
            query = query.where(or_(
                ContactRow.kind.in_(visible.any_keeper),
                and_(ContactRow.kind.in_(visible.own_keeper), ContactRow.managed_by == visible.keeper),
            ))
        if subject_ref:
            query = query.where(ContactRow.subject_ref == subject_ref)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(query.order_by(ContactRow.created_at, ContactRow.id).limit(limit).offset(offset))
        return [r.to_domain() for r in rows], int(total or 0)

    async def candidates(self, event_type: str, audience: Iterable[Audience]) -> list[Candidate]:
        """Contacts a default rule names, and contacts with a rule of their own for this type."""
        keys = [(a.kind.value, a.ref) for a in audience]
        contacts: dict[uuid.UUID, Contact] = {}
        rules: dict[uuid.UUID, list[Subscription]] = {}
        # One round trip: each candidate with its rules for this type (a row per rule, or one with none).
        for contact_row, rule_row in await self.session.execute(
                _CANDIDATES_AND_RULES, {"event_type": event_type, "keys": keys}):
            if contact_row.id not in contacts:
                contacts[contact_row.id] = contact_row.to_domain()
            if rule_row is not None:
                rules.setdefault(contact_row.id, []).append(rule_row.to_domain())
        return [Candidate(c, tuple(rules.get(c.id, ()))) for c in contacts.values()]


# Built once: on the consumer's path, building a statement cost more than running it. A contact is a
# candidate if a rule of its own names the type, or a default rule names it (its kind and reference).
_CANDIDATES_AND_RULES = (
    select(ContactRow, SubscriptionRow)
    .outerjoin(SubscriptionRow, and_(SubscriptionRow.contact_id == ContactRow.id,
                                     SubscriptionRow.event_type == bindparam("event_type")))
    .where(or_(SubscriptionRow.id.is_not(None),
               tuple_(ContactRow.kind, ContactRow.subject_ref).in_(bindparam("keys", expanding=True))))
    .order_by(ContactRow.id)
)


class Subscriptions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, s: Subscription, now: datetime) -> None:
        self.session.add(SubscriptionRow(id=s.id, contact_id=s.contact_id, event_type=s.event_type, scope=s.scope,
                                         convention_id=s.convention_id, institution_id=s.institution_id,
                                         opt_out=s.opt_out, created_at=now))

    async def same_rule(self, s: Subscription) -> Subscription | None:
        row = (await self.session.scalars(select(SubscriptionRow).where(
            SubscriptionRow.contact_id == s.contact_id, SubscriptionRow.event_type == s.event_type,
            SubscriptionRow.scope == s.scope))).first()
        return row.to_domain() if row else None

    async def of(self, contact_id: uuid.UUID) -> list[Subscription]:
        rows = await self.session.scalars(select(SubscriptionRow).where(SubscriptionRow.contact_id == contact_id)
                                          .order_by(SubscriptionRow.event_type, SubscriptionRow.scope))
        return [r.to_domain() for r in rows]

    async def delete(self, contact_id: uuid.UUID, subscription_id: uuid.UUID) -> bool:
        row = await self.session.get(SubscriptionRow, subscription_id)
        if row is None or row.contact_id != contact_id:
            return False
        await self.session.delete(row)
        return True


class Templates:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, name: str, language: Language, channel: Channel) -> TemplateText | None:
        row = await self.session.get(TemplateRow, (name, language.value, channel.value))
        return row.to_domain() if row else None

    async def put(self, t: TemplateText) -> None:
        row = await self.session.get(TemplateRow, (t.name, t.language.value, t.channel.value))
        if row is None:
            row = TemplateRow(name=t.name, language=t.language.value, channel=t.channel.value, text="",
                              updated_at=t.updated_at)
            self.session.add(row)
        row.subject, row.text, row.html = t.parts.get("subject"), t.parts["text"], t.parts.get("html")
        row.updated_at = t.updated_at or row.updated_at

    async def delete(self, name: str, language: Language, channel: Channel) -> bool:
        row = await self.session.get(TemplateRow, (name, language.value, channel.value))
        if row is None:
            return False
        await self.session.delete(row)
        return True

    async def overrides(self, names: Sequence[str] | None = None) -> dict[tuple[str, Language, Channel], TemplateText]:
        query = select(TemplateRow)
        if names is not None:
            query = query.where(TemplateRow.name.in_(names))
        texts = [r.to_domain() for r in await self.session.scalars(query)]
        return {(t.name, t.language, t.channel): t for t in texts}


class Notifications:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, n: Notification) -> bool:
        """Insert unless one already exists for the same cause, recipient and channel."""
        stmt = _notification_insert(self.session.bind.dialect.name)
        return (await self.session.execute(stmt, NotificationRow.values(n))).first() is not None

    async def record_attempt(self, n: Notification, claim: uuid.UUID) -> bool:
        """Write the outcome of the attempt made under ``claim`` (``n`` as the domain left it),
        only if the row is still ours: False if our lease ran out and another worker took it."""
        values = NotificationRow.values(n)
        result = await self.session.execute(_RECORD_ATTEMPT, {
            "held_id": n.id, "held_claim": claim, **{f"new_{name}": values[name] for name in _OUTCOME}})
        return bool(result.rowcount)

    async def begin(self, claimed: Sequence[Notification], claim: uuid.UUID, policy: RetryPolicy,
                    wall: datetime) -> set[uuid.UUID]:
        """Mark the attempts under ``claim`` as begun, before their sends, in one statement;
        the ids still held (a row whose lease ran out may have been taken over meanwhile)."""
        if not claimed:
            return set()
        for n in claimed:
            n.begin(policy, claim, wall)
        t = NotificationRow.__table__.c
        begun = await self.session.execute(
            update(NotificationRow.__table__)
            .where(t.id.in_([n.id for n in claimed]), t.claim == claim,
                   t.status == NotificationStatus.sending.value)
            .values(status=NotificationStatus.transmitting.value, lease_until=claimed[0].lease_until)
            .returning(t.id))
        return set(begun.scalars())

    async def in_doubt(self, wall: datetime, limit: int) -> list[Notification]:
        """Begun, with no outcome recorded within the lease: locked, like ``due``."""
        rows = await self.session.scalars(
            select(NotificationRow)
            .where(NotificationRow.status == NotificationStatus.transmitting.value,
                   NotificationRow.lease_until < wall)
            .order_by(NotificationRow.lease_until, NotificationRow.id).limit(limit)
            .with_for_update(skip_locked=True))
        return [r.to_domain() for r in rows]

    async def get(self, notification_id: uuid.UUID) -> Notification | None:
        row = await self.session.get(NotificationRow, notification_id)
        return row.to_domain() if row else None

    async def save(self, n: Notification) -> None:
        row = await self.session.get(NotificationRow, n.id)
        assert row is not None
        row.take(n)

    async def due(self, now: datetime, wall: datetime, limit: int) -> list[Notification]:
        """Due rows, locked (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so workers of
        several replicas never take the same row; SQLite: the write lock). Leases
        run on ``wall``, the real time (``Notification.take``)."""
        pending = and_(NotificationRow.status == NotificationStatus.pending.value,
                       NotificationRow.next_attempt_at <= now)
        abandoned = and_(NotificationRow.status == NotificationStatus.sending.value,
                         NotificationRow.lease_until < wall)
        rows = await self.session.scalars(
            select(NotificationRow).where(or_(pending, abandoned))
            .order_by(NotificationRow.next_attempt_at, NotificationRow.id).limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [r.to_domain() for r in rows]

    async def next_due_at(self) -> datetime | None:
        return await self.session.scalar(
            select(func.min(NotificationRow.next_attempt_at))
            .where(NotificationRow.status == NotificationStatus.pending.value))

    async def of_contact(self, contact_id: uuid.UUID, *, limit: int = 1000) -> list[Notification]:
        rows = await self.session.scalars(select(NotificationRow).where(NotificationRow.contact_id == contact_id)
                                          .order_by(NotificationRow.created_at).limit(limit))
        return [r.to_domain() for r in rows]

    async def blank_texts(self, contact_id: uuid.UUID) -> int:
        """What was sent to a contact whose identity is erased keeps its history (when, which
        event, the outcome), not its text, which may have named the family."""
        result = await self.session.execute(
            update(NotificationRow).where(NotificationRow.contact_id == contact_id)
            .values(subject=None, body_text="(erased)", body_html=None, payload=None))
        return int(result.rowcount or 0)

    async def cancel_pending(self, contact_id: uuid.UUID) -> int:
        result = await self.session.execute(
            update(NotificationRow)
            .where(NotificationRow.contact_id == contact_id,
                   NotificationRow.status == NotificationStatus.pending.value)
            .values(status=NotificationStatus.cancelled.value, next_attempt_at=None))
        return int(result.rowcount or 0)

    async def search(self, f: NotificationFilter, *, limit: int = 50, offset: int = 0,
                     cursor: str | None = None) -> tuple[list[Notification], int, str | None]:
        """A page (by offset, or keyset after ``cursor``), the total, and the next page's cursor."""
        offset_or_cursor(offset, cursor)
        query = select(NotificationRow)
        if f.cause_event_id:
            query = query.where(NotificationRow.cause_event_id == f.cause_event_id)
        if f.recipient_ref:
            query = query.where(NotificationRow.recipient_ref == f.recipient_ref)
        if f.status:
            query = query.where(NotificationRow.status == f.status.value)
        if f.cause_type:
            query = query.where(NotificationRow.cause_type == f.cause_type)
        total = int(await self.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        pages = keyset(query, order_by=("created_at", "id"), descending=("created_at", "id"), scalars=True)
        if cursor is not None or not offset:
            rows, after = await pages.fetch(self.session, limit=limit, cursor=cursor)
        else:
            rows = list((await self.session.scalars(pages.first.offset(offset), {"limit": limit})).all())
            after = pages.cursor_after(rows[-1]) if rows and offset + len(rows) < total else None
        return [r.to_domain() for r in rows], total, after


class Reminders:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def reconcile(self, kind: ReminderKind, subject_id: uuid.UUID, plan: Reminder | None,
                        *, correlation_id: str | None, now: datetime, new_subject: bool = False) -> None:
        """Make the subject's scheduled reminder be ``plan`` (None: no reminder).

        Other dates' scheduled rows are cancelled; a cancelled row for the
        planned date is revived; a fired one is left alone: never twice.
        ``new_subject``: the subject's replica was created in this transaction.
        Its reminders are only written here, in the transaction that saves the
        replica, and replicas are never deleted: it has none yet, so they are
        not looked for (one round trip less on a new mission's path)."""
        rows = [] if new_subject else list(await self.session.scalars(
            _REMINDERS_OF, {"kind": kind.value, "subject_id": subject_id}))
        for row in rows:
            if row.status == ReminderStatus.scheduled.value and (plan is None or row.due_on != plan.due_on):
                row.status = ReminderStatus.cancelled.value
        if plan is None:
            return
        same = next((r for r in rows if r.due_on == plan.due_on), None)
        if same is not None:
            if same.status in (ReminderStatus.scheduled.value, ReminderStatus.cancelled.value):
                same.status, same.due_at = ReminderStatus.scheduled.value, plan.due_at
                same.subject_starts_at, same.correlation_id = plan.subject_starts_at, correlation_id
            return
        await self.session.execute(_reminder_insert(self.session.bind.dialect.name), {
            "id": plan.id, "kind": kind.value, "subject_id": subject_id, "due_on": plan.due_on,
            "due_at": plan.due_at, "subject_starts_at": plan.subject_starts_at,
            "status": ReminderStatus.scheduled.value, "correlation_id": correlation_id, "created_at": now})

    async def due(self, now: datetime, limit: int = 100) -> list[tuple[Reminder, str | None]]:
        rows = await self.session.scalars(
            select(ReminderRow).where(ReminderRow.status == ReminderStatus.scheduled.value,
                                      ReminderRow.due_at <= now)
            .order_by(ReminderRow.due_at).limit(limit).with_for_update(skip_locked=True))
        return [(r.to_domain(), r.correlation_id) for r in rows]

    async def save(self, reminder: Reminder) -> None:
        row = await self.session.get(ReminderRow, reminder.id)
        assert row is not None
        row.status, row.fired_at = reminder.status.value, reminder.fired_at

    async def search(self, *, subject_id: uuid.UUID | None = None, status: ReminderStatus | None = None,
                     limit: int = 50, offset: int = 0) -> tuple[list[Reminder], int]:
        query = select(ReminderRow)
        if subject_id:
            query = query.where(ReminderRow.subject_id == subject_id)
        if status:
            query = query.where(ReminderRow.status == status.value)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(query.order_by(ReminderRow.due_at, ReminderRow.id).limit(limit).offset(offset))
        return [r.to_domain() for r in rows], int(total or 0)
