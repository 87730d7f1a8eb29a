"""Host resources: time zone, intensive-care beds, operating rooms and their hours."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from scheduling.domain.resources import ChangeRoom, HostResources, OpenRoom, OperatingRoom
from scheduling.domain.surgeries import require_room_keeps
from scheduling.handlers.common import host_lock, require_institution
from scheduling.store import SchedulingUnitOfWork
from jumelage.errors import Conflict, NotFound


@dataclass(frozen=True)
class SetResources:
    institution_id: uuid.UUID
    timezone: str
    icu_beds: int


async def set_resources(cmd: SetResources, uow: SchedulingUnitOfWork) -> HostResources:
    async with uow:
        await require_institution(uow, cmd.institution_id)
        await uow.lock(host_lock(cmd.institution_id))
        resources = await uow.hosts.get(cmd.institution_id) or HostResources(cmd.institution_id)
        resources.update(timezone=cmd.timezone, icu_beds=cmd.icu_beds)
        # Opening hours are wall-clock times: another zone moves every booking on that clock.
        for room in await uow.rooms.of_host(cmd.institution_id):
            require_room_keeps(room, await uow.surgeries.planned_in_room(room.id), resources.zone)
        await uow.hosts.save(resources)
        await uow.commit()
    return resources


async def open_room(cmd: OpenRoom, uow: SchedulingUnitOfWork) -> OperatingRoom:
    async with uow:
        await require_institution(uow, cmd.institution_id)
        await uow.lock(host_lock(cmd.institution_id))
        if await uow.hosts.get(cmd.institution_id) is None:
            await uow.hosts.save(HostResources(cmd.institution_id))
        room = OperatingRoom.open(cmd, await uow.rooms.of_host(cmd.institution_id))
        await uow.rooms.save(room)
        await uow.commit()
    return room


async def _room(uow: SchedulingUnitOfWork, institution_id: uuid.UUID, room_id: uuid.UUID) -> OperatingRoom:
    room = await uow.rooms.get(room_id)
    if room is None or room.institution_id != institution_id:
        raise NotFound(f"no operating room {room_id} at institution {institution_id}")
    return room


async def change_room(institution_id: uuid.UUID, cmd: ChangeRoom, uow: SchedulingUnitOfWork) -> OperatingRoom:
    async with uow:
        await uow.lock(host_lock(institution_id))
        room = await _room(uow, institution_id, cmd.room_id)
        room.change(cmd, await uow.rooms.of_host(institution_id))
        resources = await uow.hosts.get(institution_id) or HostResources(institution_id)
        require_room_keeps(room, await uow.surgeries.planned_in_room(room.id), resources.zone)
        await uow.rooms.save(room)
        await uow.commit()
    return room


async def remove_room(institution_id: uuid.UUID, room_id: uuid.UUID, uow: SchedulingUnitOfWork) -> None:
    async with uow:
        await uow.lock(host_lock(institution_id))
        room = await _room(uow, institution_id, room_id)
        booked = await uow.surgeries.planned_in_room(room.id)
        if booked:
            raise Conflict(f"operating room {room.name!r} is booked for {', '.join(s.label for s in booked)}: "
                           "move or cancel them first")
        await uow.rooms.remove(room.id)
        await uow.commit()
