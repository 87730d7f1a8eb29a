"""Incoming events: the replica of conventions (institutions: ``jumelage.replica``), and what a
convention's suspension, resumption or end does to its missions not yet started; the replica's reads.

The consumer runs each in its unit of work (with the inbox mark) and commits.
"""

from __future__ import annotations

import uuid

from scheduling.domain.commands import GetConvention, ListConventions
from scheduling.domain.conventions import TERMS, ConventionReplica, MissionEffect
from scheduling.domain.missions import NOT_STARTED, MissionStatus
from scheduling.handlers.common import drop_unheld, hold_planned, release_planned
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.events import (
    CloudEvent,
    ConventionAmended,
    ConventionExpired,
    ConventionResumed,
    ConventionSigned,
    ConventionSuspended,
    ConventionTerminated,
)
from jumelage.clock import Clock
from jumelage.errors import NotFound
from jumelage.logging import get_logger

log = get_logger(__name__)


async def _replica(uow: SchedulingUnitOfWork, convention_id: uuid.UUID) -> ConventionReplica:
    # Locked: a mission being scheduled under it waits for this event, or this event for it.
    return await uow.conventions.get(convention_id, for_update=True) or ConventionReplica(convention_id)


async def convention_signed(event: CloudEvent[ConventionSigned], uow: SchedulingUnitOfWork, *,
                            clock: Clock) -> None:
    data = event.data
    convention = await _replica(uow, data.convention_id)
    effect = convention.record_signature({name: getattr(data, name) for name in TERMS}, event.time)
    await _settle(convention, effect, uow, clock, reason="")


async def convention_amended(event: CloudEvent[ConventionAmended], uow: SchedulingUnitOfWork) -> None:
    data = event.data
    convention = await _replica(uow, data.convention_id)
    convention.record_amendment(data.amendment_number, data.changes)
    await uow.conventions.save(convention)


async def convention_suspended(event: CloudEvent[ConventionSuspended], uow: SchedulingUnitOfWork, *,
                               clock: Clock) -> None:
    data = event.data
    convention = await _replica(uow, data.convention_id)
    effect = convention.record_suspension(data.reason, event.time)
    await _settle(convention, effect, uow, clock,
                  reason=f"convention {convention.label} suspended: {data.reason}")


async def convention_resumed(event: CloudEvent[ConventionResumed], uow: SchedulingUnitOfWork, *,
                             clock: Clock) -> None:
    data = event.data
    convention = await _replica(uow, data.convention_id)
    effect = convention.record_resumption(data.reason, event.time)
    await _settle(convention, effect, uow, clock, reason="")


async def convention_terminated(event: CloudEvent[ConventionTerminated], uow: SchedulingUnitOfWork, *,
                                clock: Clock) -> None:
    data = event.data
    convention = await _replica(uow, data.convention_id)
    effect = convention.record_termination(data.on, data.reason, event.time)
    await _settle(convention, effect, uow, clock,
                  reason=f"convention {convention.label} terminated on {data.on}: {data.reason}")


async def convention_expired(event: CloudEvent[ConventionExpired], uow: SchedulingUnitOfWork, *,
                             clock: Clock) -> None:
    data = event.data
    convention = await _replica(uow, data.convention_id)
    effect = convention.record_expiry(data.on, data.reason, event.time)
    because = f": {data.reason}" if data.reason.strip() else ""
    await _settle(convention, effect, uow, clock,
                  reason=f"convention {convention.label} expired on {data.on}{because}")


async def _settle(convention: ConventionReplica, effect: MissionEffect, uow: SchedulingUnitOfWork,
                  clock: Clock, *, reason: str) -> None:
    """Save the replica and apply the effect to the missions not yet started."""
    await uow.conventions.save(convention)
    if effect is MissionEffect.hold:
        for mission in await uow.missions.of_convention(convention.id, [MissionStatus.scheduled], for_update=True):
            if mission.put_on_hold(reason):
                await uow.missions.save(mission, clock.now())
                uow.record_from(mission)
                await hold_planned(uow, mission, clock.now())
    elif effect is MissionEffect.release:
        for mission in await uow.missions.of_convention(convention.id, [MissionStatus.on_hold], for_update=True):
            if mission.release():
                await uow.missions.save(mission, clock.now())
                uow.record_from(mission)
                await release_planned(uow, mission, clock.now())
    elif effect is MissionEffect.cancel:
        for mission in await uow.missions.of_convention(convention.id, NOT_STARTED, for_update=True):
            mission.cancel(reason)
            await uow.missions.save(mission, clock.now())
            uow.record_from(mission)
            await drop_unheld(uow, mission, clock.now(), reason)
    if effect is not MissionEffect.none:
        log.info("convention status applied to its missions", convention_id=str(convention.id),
                 status=convention.status.value if convention.status else None, effect=effect.value)


# -- reads ---------------------------------------------------------------------------------------


async def list_conventions(query: ListConventions, uow: SchedulingUnitOfWork) -> list[ConventionReplica]:
    """The replicas known here, those ``query.party`` is a party to if it is given."""
    async with uow:
        conventions = await uow.conventions.list()
    return [c for c in conventions if query.party is None or query.party in {p.institution_id for p in c.parties}]


async def get_convention(query: GetConvention, uow: SchedulingUnitOfWork) -> ConventionReplica:
    async with uow:
        convention = await uow.conventions.get(query.convention_id)
    if convention is None:
        raise NotFound(f"no convention {query.convention_id} known here")
    return convention
