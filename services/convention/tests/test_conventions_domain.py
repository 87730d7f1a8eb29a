"""The convention's rules, without any I/O."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

import pytest

from convention.domain.conventions import (
    Convention,
    ConventionKind,
    ConventionStatus,
    CostBearer,
    Objectives,
    Party,
    Terms,
)
from convention.domain.progress import ConsultationDone, MissionDone, SurgeryDone, TrainingDone, progress
from jumelage.errors import Conflict, Invalid
from jumelage.events.convention import PartyRole

CHU_ORAN, EPH_TIARET, DSP_ORAN, OTHER = (uuid.uuid4() for _ in range(4))
KNOWN = {CHU_ORAN, EPH_TIARET, DSP_ORAN}
TODAY = date(2025, 3, 1)


def terms(**over: object) -> Terms:
    base = dict(
        title="Jumelage CHU Oran – EPH Tiaret, chirurgie générale",
        kind=ConventionKind.twinning,
        parties=(Party(CHU_ORAN, PartyRole.provider), Party(EPH_TIARET, PartyRole.beneficiary),
                 Party(DSP_ORAN, PartyRole.supervisor)),
        effective_from=date(2025, 1, 1),
        effective_until=date(2025, 12, 31),
        specialties=("general surgery", "visceral surgery"),
        objectives=Objectives(surgeries=120, consultations=600, training_sessions=24),
    )
    return Terms(**{**base, **over})  # type: ignore[arg-type]


def signed() -> Convention:
    c = Convention.draft("DSP-ORAN-2025-03", terms(), KNOWN)
    c.sign(date(2025, 1, 10), "Oran", TODAY)
    return c


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        (dict(effective_until=date(2024, 12, 31)), "effective_until", "ends (2024-12-31) before it starts"),
        (dict(parties=(Party(CHU_ORAN, PartyRole.provider), Party(CHU_ORAN, PartyRole.beneficiary))),
         "parties.1.institution_id", "listed twice"),
        (dict(parties=(Party(EPH_TIARET, PartyRole.beneficiary), Party(DSP_ORAN, PartyRole.supervisor))),
         "parties", "at least one provider"),
        (dict(parties=(Party(CHU_ORAN, PartyRole.provider), Party(DSP_ORAN, PartyRole.funder))),
         "parties", "at least one beneficiary"),
        (dict(parties=(Party(CHU_ORAN, PartyRole.provider), Party(OTHER, PartyRole.beneficiary))),
         "parties.1.institution_id", "not registered"),
        (dict(specialties=(" ",)), "specialties", "at least one specialty"),
        (dict(title="  "), "title", "needs a title"),
        (dict(cost_bearers=(CostBearer(OTHER, "travel"),)), "cost_bearers.0.institution_id", "not a party"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(over: dict, field: str, message: str) -> None:
    with pytest.raises(Invalid, match=re.escape(message)) as err:
        Convention.draft("REF-1", terms(**over), KNOWN)
    assert err.value.field == field


def test_lifecycle_and_illegal_transitions_name_the_state() -> None:
    c = Convention.draft("REF-2", terms(), KNOWN)
    assert c.status is ConventionStatus.draft
    with pytest.raises(Conflict, match="cannot suspend convention REF-2: it is draft"):
        c.suspend("no")
    c.sign(date(2025, 1, 10), "Oran", TODAY)
    with pytest.raises(Conflict, match="cannot sign convention REF-2: it is signed"):
        c.sign(date(2025, 1, 10), "Oran", TODAY)
    with pytest.raises(Conflict, match="cannot resume .* it is signed"):
        c.resume("why")
    c.suspend("audit of the accounts")
    assert (c.status, c.status_reason) == (ConventionStatus.suspended, "audit of the accounts")
    assert not c.is_active_on(date(2025, 3, 1))
    c.resume("audit closed")
    assert c.is_active_on(date(2025, 3, 1)) and not c.is_active_on(date(2026, 1, 1))
    c.terminate(date(2025, 6, 30), "service reorganised")
    assert (c.status, c.ended_on) == (ConventionStatus.terminated, date(2025, 6, 30))
    with pytest.raises(Conflict, match="cannot amend convention REF-2: it is terminated"):
        c.amend(date(2025, 7, 1), "", {"title": "x"}, KNOWN)
    with pytest.raises(Conflict, match="cannot resume .* terminated"):
        c.resume("please")


def test_signature_needs_a_place_and_a_date_not_in_the_future() -> None:
    c = Convention.draft("REF-3", terms(), KNOWN)
    with pytest.raises(Invalid) as err:
        c.sign(date(2025, 3, 2), "Oran", TODAY)
    assert err.value.field == "signed_on"
    with pytest.raises(Invalid) as err:
        c.sign(date(2025, 1, 10), " ", TODAY)
    assert err.value.field == "signed_at"


def test_a_draft_is_edited_a_signed_convention_is_amended() -> None:
    c = Convention.draft("REF-4", terms(), KNOWN)
    c.edit_draft({"objectives": {"surgeries": 150}}, KNOWN)
    assert c.terms.objectives == Objectives(150, 600, 24)
    with pytest.raises(Conflict, match="is a draft: edit it"):
        c.amend(TODAY, "", {"title": "x"}, KNOWN)

    s = signed()
    with pytest.raises(Conflict, match="change it by an amendment"):
        s.edit_draft({"title": "x"}, KNOWN)
    first = s.amend(date(2025, 6, 1), "extension to December 2026",
                    {"effective_until": date(2026, 12, 31)}, KNOWN)
    second = s.amend(date(2025, 9, 1), "more training", {"objectives": {"training_sessions": 40},
                                                         "specialties": ["general surgery"]}, KNOWN)
    assert (first.number, second.number) == (1, 2)
    assert first.changes == {"effective_until": date(2026, 12, 31)}
    assert second.changes == {"objectives": Objectives(120, 600, 40), "specialties": ("general surgery",)}
    assert s.terms.effective_until == date(2026, 12, 31)
    assert len(s.amendments) == 2


def test_an_amendment_must_change_something_valid() -> None:
    s = signed()
    with pytest.raises(Invalid, match="changes nothing"):
        s.amend(TODAY, "", {"title": s.terms.title}, KNOWN)
    with pytest.raises(Invalid, match="cannot change reference") as err:
        s.amend(TODAY, "", {"reference": "NEW"}, KNOWN)
    assert err.value.field == "changes.reference"
    with pytest.raises(Invalid, match="before it starts"):
        s.amend(TODAY, "", {"effective_until": date(2024, 1, 1)}, KNOWN)
    with pytest.raises(Invalid, match="cannot precede"):
        s.amend(date(2024, 12, 1), "", {"title": "Earlier"}, KNOWN)
    assert s.amendments == [] and s.terms == terms()


def test_expiry_happens_once_after_the_last_day() -> None:
    s = signed()
    assert not s.is_due_to_expire(date(2025, 12, 31))
    assert s.is_due_to_expire(date(2026, 1, 1))
    assert s.expire(date(2026, 1, 1)) == date(2025, 12, 31)
    assert s.status is ConventionStatus.expired
    with pytest.raises(Conflict, match="does not expire"):
        s.expire(date(2026, 1, 2))
    suspended = signed()
    suspended.suspend("pending audit")
    assert suspended.is_due_to_expire(date(2026, 1, 1))


def test_progress_counts_facts_against_objectives() -> None:
    at = datetime(2025, 5, 27, 10, tzinfo=UTC)
    m = uuid.uuid4()
    surgeries = [SurgeryDone(uuid.uuid4(), m, "successful", True, at),
                 SurgeryDone(uuid.uuid4(), m, "with_complications", False, at),
                 SurgeryDone(uuid.uuid4(), m, "successful", True, at)]
    p = progress(Objectives(4, 10, 0), surgeries, [ConsultationDone(uuid.uuid4(), m, at)],
                 [TrainingDone(uuid.uuid4(), m, "ECMO", 3.5, 8, at), TrainingDone(uuid.uuid4(), m, "Echo", 2, 5, at)],
                 [MissionDone(m, 3, 1, 2)])
    assert (p.surgeries.done, p.surgeries.target, p.surgeries.percent) == (3, 4, 75.0)
    assert p.consultations.percent == 10.0
    assert p.training_sessions.percent is None  # no target: no percentage
    assert p.surgery_outcomes == {"successful": 2, "with_complications": 1, "deceased": 0}
    assert p.treated_locally_instead_of_abroad == 2
    assert (p.training_hours, p.trainees) == (5.5, 13)
    assert p.missions_completed == 1


# -- progress over time ------------------------------------------------------------


def test_progress_by_month_counts_in_the_programmes_time_zone_with_running_totals() -> None:
    from zoneinfo import ZoneInfo

    from convention.domain.progress import Moment, by_month

    algiers = ZoneInfo("Africa/Algiers")  # UTC+1 all year
    moments = [
        Moment("surgeries", datetime(2024, 5, 27, 10, tzinfo=UTC), referred_abroad=True),
        # 23:30 UTC on 31 May is 00:30 on 1 June in Algiers: June's.
        Moment("surgeries", datetime(2024, 5, 31, 23, 30, tzinfo=UTC), referred_abroad=True),
        Moment("surgeries", datetime(2024, 8, 2, 9, tzinfo=UTC)),
        Moment("consultations", datetime(2024, 5, 28, 9, tzinfo=UTC)),
        Moment("training_sessions", datetime(2024, 6, 3, 15, tzinfo=UTC)),
    ]
    periods = by_month(list(reversed(moments)), algiers)  # the order facts come in does not matter
    assert [p.period for p in periods] == ["2024-05", "2024-06", "2024-08"]  # July: nothing, left out
    may, june, august = periods
    assert may.counts == {"surgeries": 1, "consultations": 1, "training_sessions": 0,
                          "treated_locally_instead_of_abroad": 1}
    assert june.counts == {"surgeries": 1, "consultations": 0, "training_sessions": 1,
                           "treated_locally_instead_of_abroad": 1}
    assert august.cumulative == {"surgeries": 3, "consultations": 1, "training_sessions": 1,
                                 "treated_locally_instead_of_abroad": 2}
    assert by_month(moments, ZoneInfo("UTC"))[0].counts["surgeries"] == 2  # in UTC both are May's
    assert by_month([], algiers) == []
