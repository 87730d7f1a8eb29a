"""The service's unit of work: one transaction and the repositories over it (no
clock, nothing else hangs on it), and the named locks its checks take."""

from __future__ import annotations

from typing import Self

from sqlalchemy import String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY

from scheduling.store.repositories import (
    Cases,
    Consultations,
    Conventions,
    Hosts,
    Missions,
    Placements,
    Rooms,
    Surgeries,
    TrainingSessions,
    WaitingFigures,
)
from scheduling.store.tables import INSTITUTIONS, Table
from jumelage.db import UnitOfWork
from jumelage.replica import Institutions


class SchedulingUnitOfWork(UnitOfWork):
    institutions: Institutions
    conventions: Conventions
    hosts: Hosts
    rooms: Rooms
    missions: Missions
    cases: Cases
    surgeries: Surgeries
    consultations: Consultations
    training_sessions: TrainingSessions
    placements: Placements
    figures: WaitingFigures

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        s = self.session
        self.institutions, self.conventions = Institutions(s, INSTITUTIONS), Conventions(s)
        self.hosts, self.rooms = Hosts(s), Rooms(s)
        self.missions, self.cases, self.surgeries = Missions(s), Cases(s), Surgeries(s)
        self.consultations, self.training_sessions = Consultations(s), TrainingSessions(s)
        self.placements, self.figures = Placements(s), WaitingFigures(s)
        return self

    async def lock(self, *names: str) -> None:
        """Hold named locks until commit, so two transactions never both pass a check
        on the same practitioner or host (PostgreSQL advisory locks, taken in one
        order to avoid deadlocks). SQLite needs none: its writers are serialised
        by ``BEGIN IMMEDIATE``."""
        if self.session.bind.dialect.name != "postgresql" or not names:
            return
        # All in one round trip (a team's practitioners: one lock each), in the sorted order.
        await self.session.execute(_LOCKS, {"names": sorted(set(names))})


# Keyed by schema too: an advisory lock spans the whole database. The aggregate takes
# the locks one row after the other, in the order the sorted subquery gives them.
_LOCKS = text(
    "SELECT count(pg_advisory_xact_lock(hashtext(current_schema()), hashtext(name))) "
    "FROM (SELECT unnest(:names) AS name ORDER BY 1) AS wanted"
).bindparams(bindparam("names", type_=ARRAY(String)))

