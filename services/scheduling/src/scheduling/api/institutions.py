"""What each host has: time zone, intensive-care beds, operating rooms with their opening hours.
(The institutions known here, the replica, are served by ``jumelage.replica.institutions_router``.)"""

from __future__ import annotations

import uuid
from datetime import time

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduling import access
from scheduling.access import UoW
from scheduling.api.common import Body
from scheduling.domain.commands import ChangeRoom, GetResources, ListRooms, OpenRoom, RemoveRoom, SetResources
from scheduling.domain.resources import DEFAULT_TIMEZONE, HostResources, OperatingRoom
from jumelage.api import Patch, clearable
from jumelage.service import BusDep

router = APIRouter(prefix="/institutions", tags=["institutions and host resources"])


# -- resources ------------------------------------------------------------------------------


class RoomOut(BaseModel):
    id: uuid.UUID
    institution_id: uuid.UUID
    name: str
    opens_at: time
    closes_at: time
    turnover_minutes: int | None = Field(description="between two surgeries; null: the mission's specialty's "
                                                     "default (the scheduling README's table)")

    @classmethod
    def of(cls, r: OperatingRoom) -> RoomOut:
        return cls(id=r.id, institution_id=r.institution_id, name=r.name, opens_at=r.opens_at, closes_at=r.closes_at,
                   turnover_minutes=r.turnover_minutes)


class ResourcesIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"timezone": "Africa/Algiers", "icu_beds": 4}]})

    timezone: str = Field(default=DEFAULT_TIMEZONE, min_length=1, max_length=64, examples=["Africa/Algiers"],
                          description="IANA time zone of the host: room hours and mission dates are on its clock")
    icu_beds: int = Field(ge=0, le=10_000, description="intensive-care beds")


class ResourcesOut(BaseModel):
    institution_id: uuid.UUID
    timezone: str
    icu_beds: int
    operating_rooms: list[RoomOut]

    @classmethod
    def of(cls, r: HostResources, rooms: list[OperatingRoom]) -> ResourcesOut:
        return cls(institution_id=r.institution_id, timezone=r.timezone, icu_beds=r.icu_beds,
                   operating_rooms=[RoomOut.of(room) for room in rooms])


@router.get("/{institution_id}/resources", response_model=ResourcesOut, summary="A host's resources",
            dependencies=[access.RESOURCES_READ])
async def get_resources(institution_id: uuid.UUID, uow: UoW, bus: BusDep) -> ResourcesOut:
    return ResourcesOut.of(*await bus.handle(GetResources(institution_id), uow))


@router.put("/{institution_id}/resources", response_model=ResourcesOut,
            summary="Set a host's time zone and intensive-care beds", dependencies=[access.RESOURCES])
async def set_resources(institution_id: uuid.UUID, body: ResourcesIn, uow: UoW, bus: BusDep) -> ResourcesOut:
    resources = await bus.handle(SetResources(institution_id, **body.model_dump()), uow)
    return ResourcesOut.of(resources, await bus.handle(ListRooms(institution_id), uow))


class RoomIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "Bloc B - salle 2", "opens_at": "08:00", "closes_at": "18:00"}]})

    name: str = Field(min_length=1, max_length=200, examples=["Bloc B - salle 2"])
    opens_at: time = Field(examples=["08:00"], description="host's wall-clock time")
    closes_at: time = Field(examples=["18:00"], description="host's wall-clock time")
    turnover_minutes: int | None = Field(default=None, ge=0, le=240,
                                         description="between two surgeries; default: the mission's specialty's")


class RoomChange(Patch):
    model_config = ConfigDict(json_schema_extra={"examples": [{"closes_at": "20:00"}]})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    opens_at: time | None = None
    closes_at: time | None = None
    turnover_minutes: int | None = clearable("between two surgeries; null: back to the specialty default",
                                             ge=0, le=240)


@router.post("/{institution_id}/operating-rooms", status_code=201, response_model=RoomOut,
             summary="Add an operating room", dependencies=[access.RESOURCES])
async def open_room(institution_id: uuid.UUID, body: RoomIn, uow: UoW, bus: BusDep) -> RoomOut:
    return RoomOut.of(await bus.handle(OpenRoom(institution_id, **body.model_dump()), uow))


@router.get("/{institution_id}/operating-rooms", response_model=list[RoomOut], dependencies=[access.RESOURCES_READ])
async def list_rooms(institution_id: uuid.UUID, uow: UoW, bus: BusDep) -> list[RoomOut]:
    return [RoomOut.of(r) for r in await bus.handle(ListRooms(institution_id), uow)]


@router.patch("/{institution_id}/operating-rooms/{room_id}", response_model=RoomOut,
              summary="Rename a room or change its hours", dependencies=[access.RESOURCES])
async def change_room(institution_id: uuid.UUID, room_id: uuid.UUID, body: RoomChange, uow: UoW,
                      bus: BusDep) -> RoomOut:
    changes = body.changes()
    default = "turnover_minutes" in changes and changes["turnover_minutes"] is None
    cmd = ChangeRoom(room_id, **changes, default_turnover=default, institution_id=institution_id)
    return RoomOut.of(await bus.handle(cmd, uow))


@router.delete("/{institution_id}/operating-rooms/{room_id}", status_code=204, response_class=Response,
               summary="Remove a room no planned surgery uses", dependencies=[access.RESOURCES])
async def remove_room(institution_id: uuid.UUID, room_id: uuid.UUID, uow: UoW, bus: BusDep) -> Response:
    await bus.handle(RemoveRoom(institution_id, room_id), uow)
    return Response(status_code=204)
