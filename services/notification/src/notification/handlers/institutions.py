"""The replica of institutions (kept as it is until the shared ``jumelage.replica``
takes it over): recorded from their events, read by the API."""

from __future__ import annotations

from jumelage.clock import Clock
from jumelage.errors import NotFound
from jumelage.events import CloudEvent, InstitutionRegistered
from notification.adapters.templates import TemplateRenderer
from notification.domain.commands import GetInstitution, ListInstitutions
from notification.domain.delivery import RetryPolicy
from notification.domain.institutions import KnownInstitution
from notification.domain.routing import Occurrence
from notification.handlers.notify import HandOver, notify_event
from notification.store.unit_of_work import NotificationUnitOfWork


async def record_institution(event: CloudEvent[InstitutionRegistered], uow: NotificationUnitOfWork, *,
                             clock: Clock, wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy,
                             hand_over: HandOver) -> None:
    """``InstitutionRegistered`` and ``InstitutionUpdated``: upsert the replica."""
    data = event.data
    await uow.institutions.save(
        KnownInstitution(id=data.institution_id, name=data.name, kind=data.kind.value, country=data.country,
                         city=data.city),
        event_id=event.id, as_of=event.time,
    )
    await notify_event(event, uow, Occurrence(event.type, institution_id=data.institution_id),
                       clock=clock, wall=wall, renderer=renderer, retry=retry, hand_over=hand_over)


async def list_institutions(_query: ListInstitutions, uow: NotificationUnitOfWork) -> list[KnownInstitution]:
    async with uow:
        return await uow.institutions.all()


async def get_institution(query: GetInstitution, uow: NotificationUnitOfWork) -> KnownInstitution:
    async with uow:
        institution = await uow.institutions.get(query.institution_id)
    if institution is None:
        raise NotFound(f"no institution {query.institution_id} known here")
    return institution
