"""Consultations and training sessions: planned in a mission, then recorded as held; reading them."""

from __future__ import annotations

import uuid
from dataclasses import replace

from scheduling.domain.activities import Consultation, TrainingSession
from scheduling.domain.commands import (
    GetConsultation,
    GetTrainingSession,
    HoldConsultation,
    HoldTraining,
    MissionConsultations,
    MissionTraining,
    ScheduleConsultation,
    ScheduleTraining,
)
from scheduling.domain.cases import PatientCase
from scheduling.handlers.common import host_zone, mission_for_update
from scheduling.handlers.surgeries import require_booking_site
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.clock import Clock
from jumelage.errors import Forbidden, Invalid, NotFound


async def schedule_consultation(cmd: ScheduleConsultation, uow: SchedulingUnitOfWork, *,
                                clock: Clock) -> Consultation:
    now = clock.now()
    if (cmd.case_id is None) == (cmd.new_patient is None):
        raise Invalid("give either case_id (a case on the waiting list) or new_patient", field="case_id")
    async with uow:
        mission = await mission_for_update(uow, cmd.mission_id)
        if cmd.case_id is not None:
            case = await uow.cases.get(cmd.case_id, for_update=True)
            if case is None:
                raise NotFound(f"no patient case {cmd.case_id}")
        else:
            assert cmd.new_patient is not None
            # A new patient joins the waiting list of its site (the mission's host unless said).
            site = cmd.site_institution_id or mission.host_institution_id
            mission.require_site(site, field="site_institution_id", what=f"the new patient's site is institution {site}")
            registration = replace(cmd.new_patient, host_institution_id=site)
            case = PatientCase.register(registration, now, field_prefix="new_patient.")
        require_booking_site(cmd.at_sites, case.host_institution_id, "consultations")
        consultation = Consultation.schedule(mission, case, cmd.scheduled_at,
                                             await host_zone(uow, case.host_institution_id))
        if cmd.new_patient is not None:
            await uow.cases.save(case, clock.now())
        await uow.consultations.save(consultation)
        await uow.commit()
    return consultation


async def hold_consultation(cmd: HoldConsultation, uow: SchedulingUnitOfWork, *, clock: Clock) -> Consultation:
    now = clock.now()
    async with uow:
        peek = await uow.consultations.get(cmd.consultation_id)
        if peek is None:
            raise NotFound(f"no consultation {cmd.consultation_id}")
        mission = await mission_for_update(uow, peek.mission_id)
        consultation = await uow.consultations.get(cmd.consultation_id, for_update=True)
        assert consultation is not None
        consultation.hold(mission, cmd.held_at, now)
        await uow.consultations.save(consultation)
        uow.record_from(consultation)
        await uow.commit()
    return consultation


async def schedule_training(cmd: ScheduleTraining, uow: SchedulingUnitOfWork) -> TrainingSession:
    async with uow:
        mission = await mission_for_update(uow, cmd.mission_id)
        site = cmd.site_institution_id or mission.host_institution_id
        if cmd.at_sites is not None and site not in cmd.at_sites:
            raise Forbidden(f"the caller may not plan training sessions at institution {site}: only its own "
                            "coordinators and clinicians (or the mission's) plan there")
        session = TrainingSession.schedule(mission, cmd, await host_zone(uow, site))
        await uow.training_sessions.save(session)
        await uow.commit()
    return session


async def hold_training(cmd: HoldTraining, uow: SchedulingUnitOfWork, *, clock: Clock) -> TrainingSession:
    now = clock.now()
    async with uow:
        session = await _training(uow, cmd.training_session_id)
        mission = await mission_for_update(uow, session.mission_id)
        session = await _training(uow, cmd.training_session_id, for_update=True)
        session.hold(mission, cmd, now)
        await uow.training_sessions.save(session)
        uow.record_from(session)
        await uow.commit()
    return session


async def _training(uow: SchedulingUnitOfWork, session_id: uuid.UUID, *, for_update: bool = False) -> TrainingSession:
    session = await uow.training_sessions.get(session_id, for_update=for_update)
    if session is None:
        raise NotFound(f"no training session {session_id}")
    return session


# -- reads ---------------------------------------------------------------------------------------


async def mission_consultations(query: MissionConsultations, uow: SchedulingUnitOfWork) -> list[Consultation]:
    async with uow:
        return await uow.consultations.of_mission(query.mission_id)


async def get_consultation(query: GetConsultation, uow: SchedulingUnitOfWork) -> Consultation:
    async with uow:
        consultation = await uow.consultations.get(query.consultation_id)
    if consultation is None:
        raise NotFound(f"no consultation {query.consultation_id}")
    return consultation


async def mission_training(query: MissionTraining, uow: SchedulingUnitOfWork) -> list[TrainingSession]:
    async with uow:
        return await uow.training_sessions.of_mission(query.mission_id)


async def get_training_session(query: GetTrainingSession, uow: SchedulingUnitOfWork) -> TrainingSession:
    async with uow:
        session = await uow.training_sessions.get(query.training_session_id)
    if session is None:
        raise NotFound(f"no training session {query.training_session_id}")
    return session
