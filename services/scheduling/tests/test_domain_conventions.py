"""The convention replica (pure): status never moves backwards, terms never undo
a later amendment, and each status change says what happens to the missions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace as NS

import pytest

from scheduling.domain.conventions import ConventionReplica, ConventionStatus, MissionEffect
from jumelage.errors import Conflict, Invalid

HOST, VISITOR, FUNDER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
T0 = datetime(2030, 1, 15, 10, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def terms(**over: object) -> dict[str, object]:
    values = dict(
        reference="CNAS-GSD-2030-01", title="Chirurgie cardiaque",
        parties=[NS(institution_id=VISITOR, role="provider"), NS(institution_id=HOST, role="beneficiary"),
                 NS(institution_id=FUNDER, role="funder")],
        effective_from=date(2030, 2, 1), effective_until=date(2031, 1, 31),
        specialties=["Chirurgie cardiaque pédiatrique"],
        objectives=NS(surgeries=100, consultations=300, training_sessions=20),
    )
    values.update(over)
    return values


def signed_replica() -> ConventionReplica:
    c = ConventionReplica(uuid.uuid4())
    c.record_signature(terms(), at(0))
    return c


def admit(c: ConventionReplica, **over: object) -> str:
    values = dict(host_institution_id=HOST, visiting_institution_id=VISITOR,
                  specialty="Chirurgie cardiaque pédiatrique", starts_on=date(2030, 6, 10), ends_on=date(2030, 6, 14))
    values.update(over)
    return c.admit_mission(**values)  # type: ignore[arg-type]


def test_signature_makes_it_open_for_missions() -> None:
    c = ConventionReplica(uuid.uuid4())
    assert c.record_signature(terms(), at(0)) is MissionEffect.none
    assert (c.signed, c.status, c.status_changed_at) == (True, ConventionStatus.signed, at(0))
    assert c.effective_until == date(2031, 1, 31)
    assert admit(c) == "Chirurgie cardiaque pédiatrique"


def test_suspension_holds_resumption_releases_and_both_are_idempotent() -> None:
    c = signed_replica()
    assert c.record_suspension("audit", at(1)) is MissionEffect.hold
    assert c.record_suspension("audit again", at(2)) is MissionEffect.none, "already suspended"
    with pytest.raises(Conflict, match="suspended"):
        admit(c)
    assert c.record_resumption("audit closed", at(3)) is MissionEffect.release
    assert c.record_resumption("again", at(4)) is MissionEffect.none
    assert c.status is ConventionStatus.signed
    admit(c)


@pytest.mark.parametrize("end", ["terminated", "expired"])
def test_termination_and_expiry_cancel_and_are_final(end: str) -> None:
    c = signed_replica()
    c.record_suspension("audit", at(1))
    record = c.record_termination if end == "terminated" else c.record_expiry
    assert record(date(2030, 9, 1), "over", at(2)) is MissionEffect.cancel
    assert c.status is ConventionStatus(end) and c.ended_on == date(2030, 9, 1)
    # Nothing moves it out of a final state, even a later event.
    assert c.record_resumption("late", at(5)) is MissionEffect.none
    assert c.record_suspension("late", at(6)) is MissionEffect.none
    assert c.record_termination(date(2030, 10, 1), "twice", at(7)) is MissionEffect.none
    assert c.status is ConventionStatus(end) and c.ended_on == date(2030, 9, 1)
    with pytest.raises(Conflict, match=end):
        admit(c)


def test_an_older_event_never_moves_the_status_back() -> None:
    c = signed_replica()
    c.record_suspension("audit", at(1))
    c.record_resumption("closed", at(3))
    # The suspension's duplicate, or a second suspension older than the resumption, arrives late.
    assert c.record_suspension("audit", at(1)) is MissionEffect.none
    assert c.record_suspension("other", at(2)) is MissionEffect.none
    assert c.status is ConventionStatus.signed and c.status_changed_at == at(3)


def test_suspension_before_signature_is_kept_and_the_late_signature_does_not_undo_it() -> None:
    c = ConventionReplica(uuid.uuid4())
    assert c.record_suspension("audit", at(2)) is MissionEffect.hold
    assert (c.signed, c.status) == (False, ConventionStatus.suspended)
    with pytest.raises(Conflict, match="not signed .*known here only as suspended"):
        admit(c)
    assert c.record_signature(terms(), at(0)) is MissionEffect.none
    assert c.signed and c.status is ConventionStatus.suspended and c.reference == "CNAS-GSD-2030-01"
    with pytest.raises(Conflict, match="suspended"):
        admit(c)


def test_resumption_before_signature_then_signature_opens_it() -> None:
    c = ConventionReplica(uuid.uuid4())
    c.record_resumption("closed", at(3))
    with pytest.raises(Conflict, match="not signed"):
        admit(c)
    c.record_signature(terms(), at(0))
    assert c.status is ConventionStatus.signed
    admit(c)


def test_amendment_changes_terms_and_a_late_signature_does_not_undo_it() -> None:
    c = ConventionReplica(uuid.uuid4())
    c.record_amendment(1, {"effective_until": date(2031, 6, 30), "specialties": ["Cardiologie"]})
    c.record_signature(terms(), at(0))
    assert c.effective_until == date(2031, 6, 30)
    assert c.specialties == ("Cardiologie",)
    assert c.effective_from == date(2030, 2, 1), "what the amendment did not change comes from the signature"
    # An older amendment delivered after a newer one changes nothing it covered.
    c.record_amendment(2, {"effective_until": date(2031, 12, 31)})
    c.record_amendment(1, {"effective_until": date(2031, 6, 30)})
    assert c.effective_until == date(2031, 12, 31)


def test_amendment_of_parties_and_objectives() -> None:
    c = signed_replica()
    other = uuid.uuid4()
    c.record_amendment(1, {"parties": [NS(institution_id=VISITOR, role="provider"),
                                       NS(institution_id=other, role="beneficiary")],
                           "objectives": NS(surgeries=150, consultations=300, training_sessions=20)})
    assert c.objectives is not None and c.objectives.surgeries == 150
    admit(c, host_institution_id=other)
    with pytest.raises(Invalid) as exc:
        admit(c)
    assert exc.value.field == "host_institution_id"


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"starts_on": date(2030, 1, 31)}, "starts_on", "before convention CNAS-GSD-2030-01 is in effect"),
        ({"ends_on": date(2031, 2, 1)}, "ends_on", "after convention CNAS-GSD-2030-01 ends"),
        ({"specialty": "Orthopédie"}, "specialty", "not covered"),
        ({"host_institution_id": VISITOR}, "host_institution_id", "not a beneficiary"),
        ({"visiting_institution_id": HOST}, "visiting_institution_id", "not a provider"),
        ({"visiting_institution_id": FUNDER}, "visiting_institution_id", "not a provider"),
    ],
)
def test_mission_must_fit_the_convention(over: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(Invalid, match=message) as exc:
        admit(signed_replica(), **over)
    assert exc.value.field == field


def test_specialty_is_matched_loosely_and_returned_as_the_convention_spells_it() -> None:
    assert admit(signed_replica(), specialty="  chirurgie CARDIAQUE pédiatrique ") == "Chirurgie cardiaque pédiatrique"


def test_the_whole_period_is_allowed_to_the_day() -> None:
    admit(signed_replica(), starts_on=date(2030, 2, 1), ends_on=date(2031, 1, 31))
