"""A mission as FHIR R4 Bundles (``domain/fhir.py``): read, then mapped."""

from __future__ import annotations

from typing import Any

from scheduling.domain import fhir
from scheduling.domain.commands import MissionExport
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.clock import Clock
from jumelage.errors import NotFound


async def mission_export(query: MissionExport, uow: SchedulingUnitOfWork, *, clock: Clock) -> dict[str, Any]:
    async with uow:
        mission = await uow.missions.get(query.mission_id)
        if mission is None:
            raise NotFound(f"no mission {query.mission_id}")
        surgeries = await uow.surgeries.of_mission(mission.id)
        consultations = await uow.consultations.of_mission(mission.id) if query.what == "mission" else []
        # The cases are read only for those who may see who the patients are.
        cases = {}
        if query.identities:
            for case_id in {x.case_id for x in (*surgeries, *consultations)}:
                case = await uow.cases.get(case_id)
                if case is not None:
                    cases[case_id] = case
        ids = {mission.host_institution_id, mission.visiting_institution_id,
               *(t.home_institution_id for t in mission.team if t.home_institution_id)}
        known = {i: await uow.institutions.get(i) for i in ids}
    patients = fhir.Patients(cases, query.identities)
    if query.what == "mission":
        return fhir.mission_bundle(mission, surgeries, consultations, patients, known, clock.now())
    return fhir.procedures_bundle(mission, surgeries, patients, known, clock.now())
