"""The replica of institutions (``jumelage.replica``), and the notifications its events cause."""

from __future__ import annotations

from jumelage.clock import Clock
from jumelage import replica
from jumelage.events import CloudEvent, InstitutionRegistered
from notification.adapters.templates import TemplateRenderer
from notification.domain.delivery import RetryPolicy
from notification.domain.routing import Occurrence
from notification.handlers.notify import HandOver, notify_event
from notification.store.unit_of_work import NotificationUnitOfWork


async def record_institution(event: CloudEvent[InstitutionRegistered], uow: NotificationUnitOfWork, *,
                             clock: Clock, wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy,
                             hand_over: HandOver) -> None:
    """``InstitutionRegistered`` and ``InstitutionUpdated``: upsert the replica, then tell its subscribers."""
    await replica.record_institution(event, uow)
    data = event.data
    await notify_event(event, uow, Occurrence(event.type, institution_id=data.institution_id),
                       clock=clock, wall=wall, renderer=renderer, retry=retry, hand_over=hand_over)
