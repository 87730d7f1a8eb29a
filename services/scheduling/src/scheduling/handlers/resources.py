"""Host resources: time zone, intensive-care beds, operating rooms and their hours; and their reads."""

from __future__ import annotations

import uuid

from scheduling.domain.commands import ChangeRoom, GetResources, ListRooms, OpenRoom, RemoveRoom, SetResources
from scheduling.domain.resources import HostResources, OperatingRoom
from scheduling.domain.surgeries import require_room_keeps
from scheduling.handlers.common import host_lock, require_institution
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.errors import Conflict, NotFound


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


async def change_room(cmd: ChangeRoom, uow: SchedulingUnitOfWork) -> OperatingRoom:
    assert cmd.institution_id is not None  # the route gives it
    institution_id = cmd.institution_id
    async with uow:
        await uow.lock(host_lock(institution_id))
        room = await _room(uow, institution_id, cmd.room_id)
        room.change(cmd, await uow.rooms.of_host(institution_id))
        resources = await uow.hosts.get(institution_id) or HostResources(institution_id)
        require_room_keeps(room, await uow.surgeries.planned_in_room(room.id), resources.zone)
        await uow.rooms.save(room)
        await uow.commit()
    return room


async def remove_room(cmd: RemoveRoom, uow: SchedulingUnitOfWork) -> None:
    institution_id, room_id = cmd.institution_id, cmd.room_id
    async with uow:
        await uow.lock(host_lock(institution_id))
        room = await _room(uow, institution_id, room_id)
        booked = await uow.surgeries.planned_in_room(room.id)
        if booked:
            raise Conflict(f"operating room {room.name!r} is booked for {', '.join(s.label for s in booked)}: "
                           "move or cancel them first")
        await uow.rooms.remove(room.id)
        await uow.commit()


# -- reads ---------------------------------------------------------------------------------------


async def get_resources(query: GetResources,
                        uow: SchedulingUnitOfWork) -> tuple[HostResources, list[OperatingRoom]]:
    """The host's resources (the defaults where it has recorded none) and its rooms."""
    async with uow:
        await require_institution(uow, query.institution_id)
        resources = await uow.hosts.get(query.institution_id) or HostResources(query.institution_id)
        return resources, await uow.rooms.of_host(query.institution_id)


async def list_rooms(query: ListRooms, uow: SchedulingUnitOfWork) -> list[OperatingRoom]:
    async with uow:
        await require_institution(uow, query.institution_id)
        return await uow.rooms.of_host(query.institution_id)
