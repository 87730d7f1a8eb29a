"""Missions (pure): convention rules, the practitioner overlap rule, the
lifecycle with its illegal transitions, holds and releases, and the team."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from types import SimpleNamespace as NS

import pytest

from scheduling.domain.conventions import ConventionReplica
from scheduling.domain.commands import ScheduleMission
from scheduling.domain.missions import Booked, Mission, MissionStatus, TeamMember, Totals
from jumelage.errors import Conflict, Invalid, NotFound
from jumelage.events.scheduling import PractitionerRole as Role

HOST, VISITOR = uuid.uuid4(), uuid.uuid4()
SURGEON = TeamMember(uuid.uuid4(), "Marco Bellini", Role.surgeon)
NURSE = TeamMember(uuid.uuid4(), "Sara Ricci", Role.nurse)
RESIDENT = TeamMember(uuid.uuid4(), "Amine Kaci", Role.resident)


def convention() -> ConventionReplica:
    c = ConventionReplica(uuid.uuid4())
    c.record_signature(dict(
        reference="CHU-ORAN-TIARET-2030", title="Jumelage",
        parties=[NS(institution_id=VISITOR, role="provider"), NS(institution_id=HOST, role="beneficiary")],
        effective_from=date(2030, 1, 1), effective_until=date(2030, 12, 31), specialties=["Chirurgie générale"],
        objectives=NS(surgeries=50, consultations=200, training_sessions=10),
    ), datetime(2029, 12, 1, tzinfo=UTC))
    return c


def cmd(**over: object) -> ScheduleMission:
    values = dict(convention_id=uuid.uuid4(), host_institution_id=HOST, visiting_institution_id=VISITOR,
                  specialty="chirurgie générale", starts_on=date(2030, 3, 2), ends_on=date(2030, 3, 6),
                  team=(SURGEON, NURSE))
    values.update(over)
    return ScheduleMission(**values)  # type: ignore[arg-type]


def mission(**over: object) -> Mission:
    return Mission.schedule(cmd(**over), convention(), [])


def test_schedule_takes_the_convention_spelling_and_its_id() -> None:
    c = convention()
    m = Mission.schedule(cmd(), c, [])
    assert (m.status, m.specialty, m.convention_id) == (MissionStatus.scheduled, "Chirurgie générale", c.id)
    assert m.team == [SURGEON, NURSE]


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"ends_on": date(2030, 3, 1)}, "ends_on"),
        ({"team": ()}, "team"),
        ({"team": (SURGEON, replace(NURSE, practitioner_id=SURGEON.practitioner_id))}, "team.1.practitioner_id"),
        ({"team": (replace(SURGEON, full_name="  "),)}, "team.0.full_name"),
        ({"specialty": "Urologie"}, "specialty"),
        ({"ends_on": date(2031, 1, 2)}, "ends_on"),
    ],
)
def test_bad_mission_is_invalid_naming_the_field(over: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as exc:
        mission(**over)
    assert exc.value.field == field


def test_a_practitioner_cannot_be_on_two_overlapping_missions() -> None:
    first = mission()
    for starts, ends in [(date(2030, 3, 6), date(2030, 3, 9)), (date(2030, 2, 27), date(2030, 3, 2)),
                         (date(2030, 3, 3), date(2030, 3, 4)), (date(2030, 3, 1), date(2030, 3, 10))]:
        with pytest.raises(Conflict) as exc:
            Mission.schedule(cmd(starts_on=starts, ends_on=ends, team=(RESIDENT, NURSE)), convention(), [first])
        assert "Sara Ricci" in exc.value.message and str(NURSE.practitioner_id) in exc.value.message
        assert str(first.id) in exc.value.message
    # The day after is free; so is a team without anyone in common; a cancelled mission holds nobody.
    Mission.schedule(cmd(starts_on=date(2030, 3, 7), ends_on=date(2030, 3, 9)), convention(), [first])
    Mission.schedule(cmd(team=(RESIDENT,)), convention(), [first])
    first.cancel("visas refused")
    Mission.schedule(cmd(), convention(), [first])


def test_lifecycle_and_illegal_transitions_name_the_current_state() -> None:
    m = mission()
    with pytest.raises(Conflict, match="cannot complete .* it is scheduled"):
        m.complete(Totals())
    m.start()
    assert m.status is MissionStatus.started
    for action in (m.start, lambda: m.cancel("late"), lambda: m.reschedule(
            date(2030, 4, 1), date(2030, 4, 2), "x", convention(), [])):
        with pytest.raises(Conflict, match="it is started"):
            action()
    m.complete(Totals(3, 10, 1))
    assert (m.status, m.totals) == (MissionStatus.completed, Totals(3, 10, 1))
    with pytest.raises(Conflict, match="it is completed"):
        m.complete(Totals())


def test_completion_waits_for_surgeries_in_progress() -> None:
    m = mission()
    m.start()
    with pytest.raises(Conflict, match="surgery 42 in progress"):
        m.complete(Totals(), in_progress=["surgery 42"])
    assert m.status is MissionStatus.started


def test_cancel_needs_a_reason_and_is_final() -> None:
    m = mission()
    with pytest.raises(Invalid) as exc:
        m.cancel("  ")
    assert exc.value.field == "reason"
    assert m.cancel(" visas refused ") == "visas refused"
    with pytest.raises(Conflict, match="it is cancelled"):
        m.start()


def test_hold_and_release() -> None:
    m = mission()
    assert m.put_on_hold("convention suspended: audit")
    assert (m.status, m.status_reason) == (MissionStatus.on_hold, "convention suspended: audit")
    assert not m.put_on_hold("again")
    with pytest.raises(Conflict, match="on_hold .* cannot start"):
        m.start()
    with pytest.raises(Conflict, match="it is on_hold"):
        m.reschedule(date(2030, 4, 1), date(2030, 4, 2), "later", convention(), [])
    assert m.release() and m.status is MissionStatus.scheduled and m.status_reason is None
    assert not m.release()
    m.start()
    assert not m.put_on_hold("too late: the team is there")
    # An on-hold mission can still be cancelled (its convention ended, or by hand).
    held = mission(team=(RESIDENT,))
    held.put_on_hold("audit")
    held.cancel("convention terminated")
    assert held.status is MissionStatus.cancelled


def test_reschedule_checks_the_convention_overlap_and_what_is_booked() -> None:
    m = mission()
    other = Mission.schedule(cmd(starts_on=date(2030, 4, 1), ends_on=date(2030, 4, 3), team=(NURSE,)),
                             convention(), [m])
    with pytest.raises(Conflict, match=f"Sara Ricci .* already on mission {other.id}"):
        m.reschedule(date(2030, 4, 3), date(2030, 4, 5), "bloc closed", convention(), [other])
    assert (m.starts_on, m.ends_on) == (date(2030, 3, 2), date(2030, 3, 6)), "unchanged when refused"
    with pytest.raises(Invalid) as exc:
        m.reschedule(date(2030, 12, 30), date(2031, 1, 2), "later", convention(), [])
    assert exc.value.field == "ends_on"
    with pytest.raises(Invalid, match="already runs"):
        m.reschedule(m.starts_on, m.ends_on, "same", convention(), [])
    booked = [Booked("surgery 7", date(2030, 3, 3), date(2030, 3, 3)), Booked("consultation 8", date(2030, 3, 5),
                                                                                    date(2030, 3, 5))]
    with pytest.raises(Conflict, match="consultation 8 would fall outside"):
        m.reschedule(date(2030, 3, 1), date(2030, 3, 4), "shorter", convention(), [], booked)
    assert m.reschedule(date(2030, 3, 3), date(2030, 3, 7), " one day later ", convention(), [], booked) == \
        "one day later"
    assert (m.starts_on, m.ends_on) == (date(2030, 3, 3), date(2030, 3, 7))


def test_reschedule_refused_once_the_convention_is_suspended() -> None:
    c = convention()
    m = Mission.schedule(cmd(), c, [])
    c.record_suspension("audit", datetime(2030, 2, 1, tzinfo=UTC))
    with pytest.raises(Conflict, match="suspended"):
        m.reschedule(date(2030, 4, 1), date(2030, 4, 2), "later", c, [])


def test_team_changes_before_start_only_with_the_overlap_rule() -> None:
    m = mission()
    busy = Mission.schedule(cmd(team=(RESIDENT,)), convention(), [])
    with pytest.raises(Conflict, match=f"Amine Kaci .* already on mission {busy.id}"):
        m.add_member(RESIDENT, [busy])
    with pytest.raises(Conflict, match="already on the team"):
        m.add_member(NURSE, [])
    anaesthetist = TeamMember(uuid.uuid4(), "Giulia Ferraro", Role.anaesthetist)
    m.add_member(anaesthetist, [busy])
    assert m.member(anaesthetist.practitioner_id) == anaesthetist
    with pytest.raises(Conflict, match="is booked on planned surgeries s-1"):
        m.remove_member(SURGEON.practitioner_id, leads=["s-1"])
    with pytest.raises(NotFound):
        m.remove_member(RESIDENT.practitioner_id)
    m.remove_member(NURSE.practitioner_id)
    assert [t.full_name for t in m.team] == ["Marco Bellini", "Giulia Ferraro"]
    m.start()
    with pytest.raises(Conflict, match="cannot change the team of .* it is started"):
        m.add_member(NURSE, [])
    solo = mission(team=(RESIDENT,))
    with pytest.raises(Conflict, match="only member"):
        solo.remove_member(RESIDENT.practitioner_id)


def test_lead_surgeon_must_be_a_surgeon_of_the_team() -> None:
    m = mission()
    assert m.require_surgeon(SURGEON.practitioner_id) == SURGEON
    with pytest.raises(Conflict, match="as nurse, not as surgeon"):
        m.require_surgeon(NURSE.practitioner_id)
    with pytest.raises(Conflict, match="not on the team"):
        m.require_surgeon(uuid.uuid4())


def test_the_domain_imports_no_framework() -> None:
    """domain/ stays pure: only the standard library, itself, jumelage.errors, jumelage.domain (Aggregate), the
    events' contract and jumelage.fhir (the FHIR exports' shared shapes, pure too)."""
    import ast
    from pathlib import Path

    import scheduling.domain

    allowed = ("scheduling.domain", "jumelage.errors", "jumelage.events.scheduling", "jumelage.events.convention",
               "jumelage.domain", "jumelage.fhir", "__future__")
    stdlib = {"base64", "dataclasses", "datetime", "enum", "secrets", "uuid", "zoneinfo", "collections", "typing"}
    for path in Path(scheduling.domain.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                assert name.startswith(allowed) or top in stdlib, (path.name, name)
