"""Surgeries, cases, rooms and activities (pure): slots on the host's clock,
collisions named, lifecycles, and patient references that say nothing."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace as NS
from zoneinfo import ZoneInfo

import pytest

from scheduling.domain.activities import ActivityStatus, Consultation, TrainingSession
from scheduling.domain.cases import CaseStatus, PatientCase, PatientIdentity, RiskScheme, Sex
from scheduling.domain.commands import (
    ChangeRoom,
    CompleteSurgery,
    HoldTraining,
    OpenRoom,
    RegisterCase,
    RescheduleSurgery,
    ScheduleMission,
    ScheduleSurgery,
    ScheduleTraining,
)
from scheduling.domain.conventions import ConventionReplica
from scheduling.domain.missions import Mission, TeamMember
from scheduling.domain.resources import HostResources, OperatingRoom, local_days
from scheduling.domain.surgeries import Surgery, SurgeryStatus, require_room_keeps
from jumelage.errors import Conflict, Invalid
from jumelage.events.scheduling import PractitionerRole as Role
from jumelage.events.scheduling import SurgeryOutcome

ALGIERS = ZoneInfo("Africa/Algiers")  # UTC+1, no daylight saving
HOST, VISITOR = uuid.uuid4(), uuid.uuid4()
SURGEON = TeamMember(uuid.uuid4(), "Marco Bellini", Role.surgeon)
SURGEON_2 = TeamMember(uuid.uuid4(), "Paola Conti", Role.surgeon)
NURSE = TeamMember(uuid.uuid4(), "Sara Ricci", Role.nurse)
NOW = datetime(2030, 3, 3, 12, 0, tzinfo=UTC)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 3, day, hour, minute, tzinfo=ALGIERS)


def mission() -> Mission:
    c = ConventionReplica(uuid.uuid4())
    c.record_signature(dict(
        reference="C-1", title="t",
        parties=[NS(institution_id=VISITOR, role="provider"), NS(institution_id=HOST, role="beneficiary")],
        effective_from=date(2030, 1, 1), effective_until=date(2030, 12, 31), specialties=["Cardiac surgery"],
        objectives=NS(surgeries=1, consultations=1, training_sessions=1)), NOW)
    return Mission.schedule(ScheduleMission(c.id, HOST, VISITOR, "Cardiac surgery", date(2030, 3, 2),
                                            date(2030, 3, 6), (SURGEON, SURGEON_2, NURSE)), c, [])


def room(name: str = "Bloc B - salle 2", institution: uuid.UUID = HOST) -> OperatingRoom:
    return OperatingRoom.open(OpenRoom(institution, name, time(8, 0), time(18, 0)), [])


def register(**over: object) -> PatientCase:
    values: dict[str, object] = dict(
        patient=PatientIdentity("Yacine Benali", date(2026, 2, 14), Sex.male, 9.4),
        diagnosis="Tétralogie de Fallot", planned_procedure="Correction complète", priority=2,
        expected_duration_minutes=240, risk_scheme=RiskScheme.rachs_1, risk_category=3, referred_abroad=True,
        host_institution_id=HOST)
    values.update(over)
    return PatientCase.register(RegisterCase(**values), NOW)  # type: ignore[arg-type]


def schedule(m: Mission, r: OperatingRoom, start: datetime, *, surgeon: TeamMember = SURGEON,
             others: list[Surgery] = (), minutes: int | None = None, case: PatientCase | None = None) -> Surgery:
    return Surgery.schedule(
        ScheduleSurgery(m.id, uuid.uuid4(), r.id, start.astimezone(UTC), surgeon.practitioner_id, minutes),
        mission=m, case=case or register(), room=r, tz=ALGIERS, others=list(others))


# -- cases ---------------------------------------------------------------------------------------


def test_patient_ref_is_opaque_random_and_never_the_identity() -> None:
    refs = {register().patient_ref for _ in range(50)}
    assert len(refs) == 50
    for ref in refs:
        assert re.fullmatch(r"P-[A-Z2-7]{16}", ref)
    case = register()
    assert "Yacine" not in repr(case) and "2026-02-14" not in repr(case) and "Fallot" not in repr(case)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"patient": PatientIdentity(" ", date(2026, 2, 14), Sex.male, 9.4)}, "patient.full_name"),
        ({"patient": PatientIdentity("A B", date(2031, 1, 1), Sex.male, 9.4)}, "patient.date_of_birth"),
        ({"patient": PatientIdentity("A B", date(2026, 2, 14), Sex.male, 0)}, "patient.weight_kg"),
        ({"priority": 6}, "priority"),
        ({"priority": 0}, "priority"),
        ({"risk_scheme": RiskScheme.stat, "risk_category": 6}, "risk_category"),
        ({"risk_scheme": RiskScheme.rachs_1, "risk_category": None}, "risk_category"),
        ({"risk_scheme": RiskScheme.none, "risk_category": 2}, "risk_category"),
        ({"expected_duration_minutes": 0}, "expected_duration_minutes"),
        ({"diagnosis": "  "}, "diagnosis"),
        ({"host_institution_id": None}, "host_institution_id"),
    ],
)
def test_case_registration_rules(over: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as exc:
        register(**over)
    assert exc.value.field == field


def test_risk_schemes_and_their_ranges() -> None:
    assert register(risk_scheme=RiskScheme.stat, risk_category=5).risk_category == 5
    assert register(risk_scheme=RiskScheme.rachs_1, risk_category=6).risk_category == 6
    assert register(risk_scheme=RiskScheme.none, risk_category=None).risk_scheme is RiskScheme.none


def test_case_closing_only_from_waiting() -> None:
    case = register()
    case.schedule()
    with pytest.raises(Conflict, match="it is scheduled: cancel its surgery first"):
        case.cancel("family refused")
    case.back_to_waiting()
    case.refer_elsewhere("operated in Algiers")
    assert (case.status, case.status_reason) == (CaseStatus.referred_elsewhere, "operated in Algiers")
    with pytest.raises(Conflict, match="only a waiting case"):
        case.schedule()


# -- rooms and resources ---------------------------------------------------------------------


def test_room_names_are_unique_per_institution_and_hours_ordered() -> None:
    a = room("Bloc A")
    with pytest.raises(Conflict, match="already has an operating room named 'Bloc A'"):
        OperatingRoom.open(OpenRoom(HOST, " bloc  a ", time(8), time(18)), [a])
    OperatingRoom.open(OpenRoom(uuid.uuid4(), "Bloc A", time(8), time(18)), [a])  # another institution's list
    with pytest.raises(Invalid) as exc:
        OperatingRoom.open(OpenRoom(HOST, "Bloc C", time(18), time(8)), [a])
    assert exc.value.field == "closes_at"
    b = room("Bloc B")
    with pytest.raises(Conflict):
        b.change(ChangeRoom(b.id, name="BLOC A"), [a, b])
    b.change(ChangeRoom(b.id, opens_at=time(7, 30)), [a, b])
    assert b.hours == "07:30-18:00"


def test_resources_reject_unknown_zones_and_negative_beds() -> None:
    r = HostResources(HOST)
    assert r.timezone == "Africa/Algiers" and r.icu_beds == 0
    with pytest.raises(Invalid) as exc:
        r.update(timezone="Mars/Olympus", icu_beds=4)
    assert exc.value.field == "timezone"
    with pytest.raises(Invalid) as exc:
        r.update(timezone="Europe/Rome", icu_beds=-1)
    assert exc.value.field == "icu_beds"
    r.update(timezone="Europe/Rome", icu_beds=6)
    assert (r.timezone, r.icu_beds) == ("Europe/Rome", 6)


def test_local_days_of_a_span() -> None:
    assert local_days(local(3, 23), local(4, 1), ALGIERS) == (date(2030, 3, 3), date(2030, 3, 4))
    # 23:30 UTC on the 2nd is already the 3rd in Algiers.
    assert local_days(datetime(2030, 3, 2, 23, 30, tzinfo=UTC), datetime(2030, 3, 3, 0, 30, tzinfo=UTC),
                      ALGIERS) == (date(2030, 3, 3), date(2030, 3, 3))


# -- surgery slots ------------------------------------------------------------------------------


def test_a_slot_inside_the_days_and_hours_on_the_hosts_clock() -> None:
    m, r = mission(), room()
    s = schedule(m, r, local(3, 8))
    assert s.scheduled_start == datetime(2030, 3, 3, 7, 0, tzinfo=UTC)
    assert s.scheduled_end == local(3, 12) and s.status is SurgeryStatus.scheduled
    schedule(m, r, local(3, 14), minutes=240)  # ends at 18:00 sharp: fits


@pytest.mark.parametrize(
    ("start", "minutes", "message"),
    [
        (local(3, 7, 30), 60, "open 08:00-18:00 \\(Africa/Algiers\\).*from 2030-03-03 07:30"),
        (local(3, 15), 240, "open 08:00-18:00"),
        (local(1, 9), 60, "on 2030-03-01 .* outside mission"),
        (local(7, 9), 60, "outside mission"),
    ],
)
def test_a_slot_outside_the_mission_or_the_room_hours_is_a_conflict(start: datetime, minutes: int,
                                                                     message: str) -> None:
    with pytest.raises(Conflict, match=message):
        schedule(mission(), room(), start, minutes=minutes)


def test_room_and_surgeon_collisions_are_named() -> None:
    m, a, b = mission(), room("Bloc A"), room("Bloc B")
    first = schedule(m, a, local(3, 8))  # 08:00-12:00
    with pytest.raises(Conflict, match=f"'Bloc A' is already taken from 2030-03-03 08:00 to 2030-03-03 12:00 "
                                       f".* by surgery {first.id}"):
        schedule(m, a, local(3, 11), surgeon=SURGEON_2, others=[first])
    with pytest.raises(Conflict, match=f"surgeon Marco Bellini .* already operating .*surgery {first.id}"):
        schedule(m, b, local(3, 9), others=[first])
    # The room's turnover after it (its own, else its specialty's: 45 min in cardiac surgery); another
    # surgeon in another room is fine; a cancelled surgery frees both.
    with pytest.raises(Conflict, match=f"'Bloc A' needs 45 min between two surgeries .*surgery {first.id}"):
        schedule(m, a, local(3, 12), others=[first])
    schedule(m, replace(a, turnover_minutes=0), local(3, 12), others=[first])
    schedule(m, a, local(3, 12, 45), others=[first])
    schedule(m, b, local(3, 9), surgeon=SURGEON_2, others=[first])
    first.cancel("fever", register())
    schedule(m, a, local(3, 9), others=[first])


def test_surgeon_must_be_a_surgeon_on_the_team_and_the_room_the_hosts() -> None:
    m = mission()
    with pytest.raises(Conflict, match="as nurse, not as surgeon"):
        schedule(m, room(), local(3, 8), surgeon=NURSE)
    with pytest.raises(Conflict, match="not on the team"):
        schedule(m, room(), local(3, 8), surgeon=TeamMember(uuid.uuid4(), "X", Role.surgeon))
    with pytest.raises(Invalid) as exc:
        schedule(m, room(institution=uuid.uuid4()), local(3, 8))
    assert exc.value.field == "operating_room_id"


def test_scheduling_needs_a_waiting_case_of_the_host_and_a_plannable_mission() -> None:
    m, r = mission(), room()
    case = register()
    schedule(m, r, local(3, 8), case=case)
    assert case.status is CaseStatus.scheduled
    with pytest.raises(Conflict, match=f"case {case.patient_ref} is scheduled"):
        schedule(m, r, local(4, 8), case=case)
    with pytest.raises(Invalid) as exc:
        schedule(m, r, local(4, 8), case=register(host_institution_id=uuid.uuid4()))
    assert exc.value.field == "case_id"
    m.put_on_hold("audit")
    with pytest.raises(Conflict, match="is on_hold: surgeries can be planned only while it is scheduled or started"):
        schedule(m, r, local(4, 8))


def test_surgery_lifecycle() -> None:
    m, r, case = mission(), room(), register()
    s = schedule(m, r, local(3, 8), case=case)
    with pytest.raises(Conflict, match="once started"):
        s.start(m, NOW, NOW)
    m.start()
    with pytest.raises(Conflict, match="cannot complete surgery .* it is scheduled"):
        s.complete(CompleteSurgery(s.id, SurgeryOutcome.successful, 200), mission=m, case=case, now=NOW)
    s.start(m, NOW - timedelta(hours=4), NOW)
    with pytest.raises(Conflict, match="cannot cancel .* it is started"):
        s.cancel("no", case)
    with pytest.raises(Invalid) as exc:
        s.complete(CompleteSurgery(s.id, SurgeryOutcome.successful, 200, NOW + timedelta(hours=1)),
                   mission=m, case=case, now=NOW)
    assert exc.value.field == "completed_at"
    with pytest.raises(Invalid, match="cannot be completed before"):
        s.complete(CompleteSurgery(s.id, SurgeryOutcome.successful, 200, NOW - timedelta(hours=5)),
                   mission=m, case=case, now=NOW)
    s.complete(CompleteSurgery(s.id, SurgeryOutcome.with_complications, 255), mission=m, case=case, now=NOW)
    assert (s.status, s.completed_at, s.outcome) == (SurgeryStatus.completed, NOW, SurgeryOutcome.with_complications)
    assert case.status is CaseStatus.operated


def test_cancel_sends_the_case_back_to_the_waiting_list() -> None:
    m, r, case = mission(), room(), register()
    s = schedule(m, r, local(3, 8), case=case)
    assert s.cancel(" fever ", case) == "fever"
    assert (s.status, case.status) == (SurgeryStatus.cancelled, CaseStatus.waiting)
    with pytest.raises(Conflict, match="it is cancelled"):
        s.cancel("again", case)


def test_reschedule_checks_the_new_slot_and_keeps_the_old_one_when_refused() -> None:
    m, a, b = mission(), room("Bloc A"), room("Bloc B")
    s = schedule(m, a, local(3, 8))
    blocker = schedule(m, b, local(4, 8), surgeon=SURGEON_2)
    with pytest.raises(Conflict, match=f"'Bloc B' is already taken .* by surgery {blocker.id}"):
        s.reschedule(RescheduleSurgery(s.id, local(4, 9).astimezone(UTC), "x", b.id), mission=m, room=b,
                     tz=ALGIERS, others=[blocker, s])
    assert (s.scheduled_start, s.operating_room) == (local(3, 8), "Bloc A")
    with pytest.raises(Invalid, match="already at"):
        s.reschedule(RescheduleSurgery(s.id, local(3, 8), "same"), mission=m, room=a, tz=ALGIERS, others=[s])
    # Moving later in its own slot does not collide with itself.
    assert s.reschedule(RescheduleSurgery(s.id, local(3, 10), "late start"), mission=m, room=a, tz=ALGIERS,
                        others=[s]) == "late start"
    assert s.scheduled_start == local(3, 10)


def test_new_room_hours_must_keep_what_is_booked() -> None:
    m, r = mission(), room()
    s = schedule(m, r, local(3, 14))  # until 18:00
    r.change(ChangeRoom(r.id, closes_at=time(17)), [r])
    with pytest.raises(Conflict, match=f"surgery {s.id} is booked in 'Bloc B - salle 2' from 2030-03-03 14:00"):
        require_room_keeps(r, [s], ALGIERS)
    require_room_keeps(r, [s], ZoneInfo("UTC"))  # 13:00-17:00 on a UTC clock fits


# -- consultations and training ---------------------------------------------------------------


def test_consultation_and_training_are_planned_on_mission_days_and_held_once_started() -> None:
    m, case = mission(), register()
    with pytest.raises(Conflict, match="outside mission"):
        Consultation.schedule(m, case, local(8, 9).astimezone(UTC), ALGIERS)
    c = Consultation.schedule(m, case, local(3, 9).astimezone(UTC), ALGIERS)
    assert (c.patient_ref, c.specialty) == (case.patient_ref, "Cardiac surgery")
    t = TrainingSession.schedule(m, ScheduleTraining(m.id, " ECMO  chez le nourrisson ", local(3, 14), 3.5), ALGIERS)
    assert t.topic == "ECMO chez le nourrisson"
    with pytest.raises(Conflict, match="once started"):
        c.hold(m, None, NOW)
    m.start()
    c.hold(m, None, NOW)
    assert (c.status, c.held_at) == (ActivityStatus.held, NOW)
    with pytest.raises(Conflict, match="is held"):
        c.hold(m, None, NOW)
    with pytest.raises(Invalid) as exc:
        t.hold(m, HoldTraining(t.id, 12, held_at=NOW + timedelta(days=1)), NOW)
    assert exc.value.field == "held_at"
    t.hold(m, HoldTraining(t.id, 12, hours=4), NOW)
    assert (t.status, t.trainee_count, t.hours) == (ActivityStatus.held, 12, 4)
    assert not t.call_off(), "held: nothing to call off"


def test_activity_rules() -> None:
    m = mission()
    with pytest.raises(Invalid) as exc:
        TrainingSession.schedule(m, ScheduleTraining(m.id, "  ", local(3, 14), 2), ALGIERS)
    assert exc.value.field == "topic"
    with pytest.raises(Invalid) as exc:
        TrainingSession.schedule(m, ScheduleTraining(m.id, "CEC", local(3, 14), 0), ALGIERS)
    assert exc.value.field == "hours"
    with pytest.raises(Invalid) as exc:
        Consultation.schedule(m, register(host_institution_id=uuid.uuid4()), local(3, 9), ALGIERS)
    assert exc.value.field == "case_id"
    c = Consultation.schedule(m, register(), local(3, 9), ALGIERS)
    assert c.call_off() and c.status is ActivityStatus.cancelled
