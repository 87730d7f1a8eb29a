"""A case's readiness checklist and screening notes, as pure rules (no database, no broker)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from scheduling.domain.cases import PatientCase, ScreeningNote
from scheduling.domain.values import UNFIT_REASON
from scheduling.domain.values import CaseStatus, PatientIdentity, ReadinessItem, RiskScheme, Sex
from jumelage.errors import Conflict, Invalid

NOW = datetime(2030, 6, 11, 9, 0, tzinfo=UTC)
TODAY = date(2030, 6, 11)


def case(**over: object) -> PatientCase:
    values: dict[str, object] = dict(
        id=uuid.uuid4(), patient_ref="P-TEST", host_institution_id=uuid.uuid4(),
        patient=PatientIdentity("Yacine B.", date(2026, 2, 14), Sex.male, 9.4), diagnosis="Fallot",
        planned_procedure="Complete repair", priority=2, expected_duration_minutes=240,
        risk_scheme=RiskScheme.rachs_1, risk_category=3, referred_abroad=True)
    values.update(over)
    return PatientCase(**values)  # type: ignore[arg-type]


def check(c: PatientCase, item: str, *, on: date = TODAY, by: str = "dr.a", label: str | None = None) -> bool:
    return c.check(ReadinessItem(item), on=on, by=by, label=label, today=TODAY, now=NOW)


def test_a_case_is_ready_once_the_four_required_items_are_checked() -> None:
    c = case()
    assert not c.ready and [i.value for i in c.missing] == [
        "consent_signed", "tests_done", "fit_for_anaesthesia", "travel_arranged"]
    for item in ("consent_signed", "tests_done", "fit_for_anaesthesia"):
        assert check(c, item)
    assert check(c, "other", label="  Dental   check ")
    assert c.readiness[ReadinessItem.other].label == "Dental check"
    assert [i.value for i in c.missing] == ["travel_arranged"], "'other' is not required"
    assert check(c, "travel_arranged", on=date(2030, 6, 1), by="coord.cmci")
    assert c.ready and c.missing == []
    travel = c.readiness[ReadinessItem.travel_arranged]
    assert (travel.checked_on, travel.checked_by, travel.recorded_at) == (date(2030, 6, 1), "coord.cmci", NOW)
    assert not check(c, "travel_arranged", on=date(2030, 6, 1), by="coord.cmci"), "the same check changes nothing"
    assert check(c, "travel_arranged", on=date(2030, 6, 2), by="coord.cmci"), "a new date replaces the old"
    assert c.withdraw(ReadinessItem.fit_for_anaesthesia) and not c.ready
    assert not c.withdraw(ReadinessItem.fit_for_anaesthesia), "withdrawn twice: nothing more"


def test_what_a_check_refuses() -> None:
    c = case()
    for item, kw, field in [("tests_done", {"on": date(2030, 6, 12)}, "checked_on"),
                            ("other", {}, "label"), ("other", {"label": "   "}, "label"),
                            ("consent_signed", {"label": "x"}, "label")]:
        with pytest.raises(Invalid) as refused:
            check(c, item, **kw)  # type: ignore[arg-type]
        assert refused.value.field == field
    for status in (CaseStatus.operated, CaseStatus.cancelled, CaseStatus.referred_elsewhere):
        closed = case(status=status)
        with pytest.raises(Conflict, match=f"P-TEST is {status.value}"):
            check(closed, "consent_signed")
        with pytest.raises(Conflict):
            closed.withdraw(ReadinessItem.consent_signed)
    assert check(case(status=CaseStatus.scheduled), "consent_signed"), "a planned case's checklist still changes"


def test_the_family_s_reason_names_no_item_and_a_note_is_bounded() -> None:
    for word in ("consent", "test", "anaesthe", "fit", "travel"):
        assert word not in UNFIT_REASON.lower()
    c = case()
    note = ScreeningNote.write(c, "  Echo reviewed  ", "dr.gsd", None, NOW)
    assert (note.text, note.case_id, note.author) == ("Echo reviewed", c.id, "dr.gsd")
    assert "Echo" not in repr(note), "a note printed by accident shows no text"
    for text in (" ", "x" * 4001):
        with pytest.raises(Invalid) as refused:
            ScreeningNote.write(c, text, "dr.gsd", None, NOW)
        assert refused.value.field == "text"
