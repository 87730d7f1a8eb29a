"""The pure logic of the waiting list, the activities and the desk (no service, no broker)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from jumelage.errors import Invalid
from web.domain import activities, cases, desk

ALGIERS = ZoneInfo("Africa/Algiers")


def case(status: str, registered_at: str, updated_at: str | None = None, **over: object) -> dict:
    return {"id": "c1", "status": status, "registered_at": registered_at, "updated_at": updated_at or registered_at,
            "version": 3, "risk_scheme": "STAT", "risk_category": 4, **over}


def test_days_waited_run_to_today_while_waiting_and_stop_when_the_case_leaves_the_list() -> None:
    today = date(2024, 6, 10)
    assert cases.days_waited(case("waiting", "2024-06-01T08:00:00Z"), today, ALGIERS) == 9
    assert cases.days_waited(case("scheduled", "2024-06-01T08:00:00Z"), today, ALGIERS) == 9, "planned: still waits"
    assert cases.days_waited(case("operated", "2024-06-01T08:00:00Z", "2024-06-04T10:00:00Z"), today, ALGIERS) == 3
    # 23:30 UTC on 31 May is 1 June in Algiers: the host's calendar counts.
    assert cases.days_waited(case("waiting", "2024-05-31T23:30:00Z"), today, ALGIERS) == 9
    assert cases.days_waited(case("waiting", "2024-05-31T23:30:00Z"), today, ZoneInfo("UTC")) == 10
    assert cases.days_waited({"status": "waiting"}, today, ALGIERS) is None


def test_the_waiting_list_groups_by_state_keeps_the_order_and_gives_each_its_etag() -> None:
    listed = [case("waiting", "2024-06-01T08:00:00Z", id="a", priority=1),
              case("operated", "2024-05-01T08:00:00Z", id="b"),
              case("waiting", "2024-06-02T08:00:00Z", id="c", priority=2, risk_scheme="none", risk_category=None)]
    shown = cases.waiting_list(listed, date(2024, 6, 10), ALGIERS)
    assert [c["id"] for c in shown["by_state"]["waiting"]] == ["a", "c"]
    assert shown["counts"] == {"waiting": 2, "scheduled": 0, "operated": 1, "referred_elsewhere": 0, "cancelled": 0}
    first = shown["by_state"]["waiting"][0]
    assert first["etag"] == '"3"' and first["risk"] == "STAT 4" and first["days_waited"] == 9
    assert shown["by_state"]["waiting"][1]["risk"] == "none"
    assert "patient" not in first, "what the service did not return is not made up"


def test_a_case_body_from_the_form() -> None:
    fields = {"full_name": "X", "date_of_birth": "2021-03-14", "sex": "male", "weight_kg": "11.5", "diagnosis": "d",
              "planned_procedure": "p", "priority": "1", "expected_duration_minutes": "300", "risk_scheme": "RACHS-1",
              "risk_category": "6", "referred_abroad": True}
    body = cases.case_body(fields)
    assert body["patient"] == {"full_name": "X", "date_of_birth": "2021-03-14", "sex": "male", "weight_kg": 11.5}
    assert (body["risk_scheme"], body["risk_category"], body["priority"]) == ("RACHS-1", 6, 1)
    assert cases.case_body({**fields, "risk_scheme": "none", "risk_category": "3"})["risk_category"] is None
    for wrong, field in (({"risk_scheme": "STAT", "risk_category": "6"}, "risk_category"),
                         ({"risk_scheme": "STAT", "risk_category": ""}, "risk_category"),
                         ({"risk_category": "two"}, "risk_category"), ({"risk_scheme": "EuroSCORE"}, "risk_scheme")):
        with pytest.raises(Invalid) as refused:
            cases.case_body({**fields, **wrong})
        assert refused.value.field == field


def test_a_wall_clock_time_is_an_instant_on_the_host_clock() -> None:
    assert activities.instant("2024-05-27T10:00", "Africa/Algiers", field="scheduled_at") == "2024-05-27T10:00:00+01:00"
    assert activities.instant("2024-05-27T10:00+02:00", "Africa/Algiers", field="x") == "2024-05-27T10:00:00+02:00"
    with pytest.raises(Invalid) as bad:
        activities.instant("tomorrow", "Africa/Algiers", field="held_at")
    assert bad.value.field == "held_at"
    with pytest.raises(Invalid) as zone:
        activities.instant("2024-05-27T10:00", "Mars/Olympus", field="scheduled_at")
    assert zone.value.field == "zone"


def test_who_is_offered_which_activity_form() -> None:
    m = {"host_institution_id": "h", "visiting_institution_id": "v"}
    assert activities.offered(m, ["coordinator"], "v") == {"consultation", "training"}
    assert activities.offered(m, ["clinician"], "h") == {"consultation"}
    assert activities.offered(m, ["clinician"], "v") == set()
    assert activities.offered(m, ["funder"], "h") == set()


def test_activities_in_order_and_their_summary() -> None:
    c = [{"scheduled_at": "2024-05-28T09:00:00Z", "status": "held"}, {"scheduled_at": "2024-05-27T09:00:00Z",
                                                                        "status": "scheduled"}]
    t = [{"scheduled_at": "2024-05-27T15:00:00Z", "status": "held", "trainee_count": 7, "hours": 2.5},
         {"scheduled_at": "2024-05-28T15:00:00Z", "status": "scheduled", "trainee_count": None, "hours": 3}]
    assert [a["scheduled_at"][:10] for a in activities.in_order(c)] == ["2024-05-27", "2024-05-28"]
    assert activities.summary(c, t) == {"consultations_held": 1, "consultations": 2, "training_held": 1,
                                        "training": 2, "trainees": 7, "training_hours": 2.5}


def test_the_desk_counts_statuses_lists_failures_newest_first_and_groups_templates() -> None:
    n = [{"status": "sent", "created_at": "1"}, {"status": "failed", "created_at": "2", "last_error": "SMTP 550"},
         {"status": "unknown", "created_at": "3"}, {"status": "sent", "created_at": "4"}]
    assert desk.status_counts(n) == {"failed": 1, "sent": 2, "unknown": 1}
    assert [f["created_at"] for f in desk.failures(n)] == ["3", "2"]
    listed = [{"event_type": "B", "language": "fr", "channel": "sms", "source": "default"},
              {"event_type": "A", "language": "fr", "channel": "email", "source": "override"},
              {"event_type": "B", "language": "ar", "channel": "email", "source": "default"}]
    grouped = desk.templates_by_type(listed)
    assert [g["event_type"] for g in grouped] == ["A", "B"]
    assert [(v["language"], v["channel"]) for v in grouped[1]["variants"]] == [("ar", "email"), ("fr", "sms")]


def test_a_consultation_is_for_a_case_or_a_new_patient_never_both_nor_neither() -> None:
    assert activities.consultation_body("t", "c1", None) == {"scheduled_at": "t", "case_id": "c1"}
    assert activities.consultation_body("t", None, {"x": 1}) == {"scheduled_at": "t", "new_patient": {"x": 1}}
    for case_id, patient in (("c1", {"x": 1}), (None, None)):
        with pytest.raises(Invalid) as refused:
            activities.consultation_body("t", case_id, patient)
        assert refused.value.field == "case_id"


def test_a_case_form_missing_a_field_names_it() -> None:
    with pytest.raises(Invalid) as refused:
        cases.case_body({"full_name": "X", "risk_scheme": "none"})
    assert refused.value.field == "date_of_birth"
    with pytest.raises(Invalid) as weight:
        cases.case_body({"full_name": "X", "date_of_birth": "2021-01-01", "sex": "male", "weight_kg": "heavy",
                         "diagnosis": "d", "planned_procedure": "p", "priority": "1",
                         "expected_duration_minutes": "60"})
    assert weight.value.field == "weight_kg"


def test_an_edit_sends_what_the_case_status_lets_change() -> None:
    fields = {"full_name": "Y. B.", "date_of_birth": "2021-03-14", "sex": "male", "weight_kg": "11,5",
              "diagnosis": "TGA", "planned_procedure": "Arterial switch", "priority": "2",
              "expected_duration_minutes": "300", "risk_scheme": "STAT", "risk_category": "4", "referred_abroad": ""}
    assert cases.edit_body(fields, "waiting") == cases.case_body(fields), "a waiting case: every field"
    planned = cases.edit_body(fields, "scheduled")
    assert planned == {"patient": {"full_name": "Y. B.", "date_of_birth": "2021-03-14", "sex": "male",
                                   "weight_kg": 11.5}, "diagnosis": "TGA", "priority": 2, "referred_abroad": False}
    for status in ("operated", "cancelled", "referred_elsewhere"):
        assert cases.edit_body(fields, status) == {"patient": planned["patient"]}
        assert cases.editable(status) == cases.IDENTITY
    with pytest.raises(Invalid) as missing:
        cases.edit_body({**fields, "diagnosis": ""}, "scheduled")
    assert missing.value.field == "diagnosis"


def test_a_desk_list_knows_its_pages() -> None:
    assert desk.page_of({"items": [1, 2], "total": 5, "limit": 2, "offset": 0}) == {
        "first": 1, "last": 2, "total": 5, "previous": None, "next": 2}
    assert desk.page_of({"items": [5], "total": 5, "limit": 2, "offset": 4}) == {
        "first": 5, "last": 5, "total": 5, "previous": 2, "next": None}
    assert desk.page_of({"items": [], "total": 5, "limit": 2, "offset": 9})["first"] == 0
    assert desk.page_of({"items": [1], "total": 1, "limit": 50, "offset": 0})["next"] is None


def test_reference_cost_lines_from_the_form() -> None:
    from web.domain.conventions import reference_costs_from_form

    assert reference_costs_from_form({"title": "x"}) is None  # no cost rows on the form: the lines stay
    assert reference_costs_from_form({"cost_rows": "6"}) == []  # every row empty: no line
    lines = reference_costs_from_form({
        "cost_rows": "6", "cost_specialty_2": " general surgery ", "cost_procedure_2": "cholecystectomy",
        "cost_abroad_amount_2": "8 500,50", "cost_abroad_currency_2": "eur", "cost_here_amount_2": "90000",
        "cost_here_currency_2": "dzd"})
    assert lines == [{"specialty": "general surgery", "procedure": "cholecystectomy",
                      "abroad": {"amount": "8500.50", "currency": "EUR"}, "here": {"amount": "90000", "currency": "DZD"}}]
    with pytest.raises(Invalid) as refused:
        reference_costs_from_form({"cost_rows": "6", "cost_procedure_0": "x"})
    assert refused.value.field == "cost_specialty_0"
