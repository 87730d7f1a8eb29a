"""A convention's report without I/O: its periods, its tables, its words in three languages,
its charts, and the PDF WeasyPrint makes of it (read back with pypdf)."""

from __future__ import annotations

from dataclasses import replace

import csv
import io
import uuid
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pypdf
import pytest
import weasyprint  # noqa: F401  # at collection: finding Pango runs ldconfig once (a process, refused in a fast test)

from convention.adapters import reports
from convention.adapters.charts import monthly_bars, progress_bar
from convention.adapters.report_text import LABELS
from convention.domain.achievements import Climb, LedTally, OutcomeTally, Step
from convention.domain.conventions import (
    Convention,
    ConventionKind,
    Money,
    Objectives,
    Party,
    ReferenceCost,
    Terms,
    YearObjectives,
)
from convention.domain.progress import (
    ConsultationDone,
    MissionDone,
    PlacementDone,
    SurgeryDone,
    TrainingDone,
    tallies_of,
)
from convention.domain.report import (
    Facts,
    PartyLine,
    ReportPeriod,
    file_stem,
    report,
    report_from_facts,
    report_period,
    tables,
)
from jumelage.errors import Invalid
from jumelage.events.convention import PartyRole
from jumelage.events.scheduling import LocalRole

ALGIERS = ZoneInfo("Africa/Algiers")
GSD, CMCI, CNAS = (uuid.uuid4() for _ in range(3))
MISSION = uuid.uuid4()


def convention() -> Convention:
    terms = Terms(
        title="Chirurgie cardiaque pédiatrique au CMCI Bousmail", kind=ConventionKind.international_cooperation,
        parties=(Party(GSD, PartyRole.provider), Party(CMCI, PartyRole.beneficiary), Party(CNAS, PartyRole.funder)),
        effective_from=date(2024, 5, 20), effective_until=date(2025, 5, 19),
        specialties=("paediatric cardiac surgery",),
        objectives=Objectives(surgeries=40, consultations=100, training_sessions=10),
        reference_costs=(ReferenceCost("paediatric cardiac surgery", None, Money(Decimal("30000"), "EUR"),
                                       Money(Decimal("150000"), "DZD")),))
    c = Convention.draft("CNAS-GSD-2024-01", terms, {GSD, CMCI, CNAS})
    c.sign(date(2024, 5, 20), "Alger", date(2024, 5, 20))
    return c


def surgery(at: datetime, abroad: bool = True, outcome: str = "successful") -> SurgeryDone:
    return SurgeryDone(uuid.uuid4(), MISSION, outcome, abroad, at, "paediatric cardiac surgery", "arterial switch")


FACTS = Facts(
    surgeries=[surgery(datetime(2024, 5, 27, 10, tzinfo=UTC)), surgery(datetime(2024, 5, 28, 10, tzinfo=UTC)),
               surgery(datetime(2024, 5, 31, 23, 30, tzinfo=UTC), abroad=False),  # 1 June in Algiers
               surgery(datetime(2024, 7, 2, 9, tzinfo=UTC), outcome="with_complications")],
    consultations=[ConsultationDone(uuid.uuid4(), MISSION, datetime(2024, 5, 26, 9, tzinfo=UTC))],
    trainings=[TrainingDone(uuid.uuid4(), MISSION, "Perfusion", 3.0, 6, datetime(2024, 5, 29, 15, tzinfo=UTC))],
    missions=[MissionDone(MISSION, 3, 1, 1)],
    placements=[PlacementDone(uuid.uuid4(), "observership", 10, 2, date(2024, 8, 30))],
)
TALLIES = tallies_of(FACTS.surgeries, FACTS.consultations, FACTS.trainings, FACTS.missions, FACTS.placements, ALGIERS)
PARTIES = [PartyLine("provider", "Gruppo San Donato"), PartyLine("beneficiary", "CMCI Bousmail"),
           PartyLine("funder", "CNAS")]
MADE = datetime(2024, 9, 1, 8, tzinfo=UTC)


def made(period: ReportPeriod) -> reports.Report:
    return report(convention(), PARTIES, period, TALLIES, ALGIERS, MADE)


@pytest.mark.parametrize("period", [report_period(None, None, None), report_period("2024-Q2", None, None),
                                    report_period("2024-06", None, None),
                                    report_period(None, date(2024, 5, 28), date(2024, 6, 1)),
                                    report_period(None, date(2024, 6, 1), None)])
def test_the_report_from_the_counters_is_the_report_from_the_facts(period: ReportPeriod) -> None:
    assert tables(made(period)) == tables(report_from_facts(convention(), PARTIES, period, FACTS, ALGIERS, MADE))


@pytest.mark.parametrize(("period", "first", "last"), [
    ("2024", date(2024, 1, 1), date(2024, 12, 31)),
    ("2024-Q2", date(2024, 4, 1), date(2024, 6, 30)),
    ("2024-Q4", date(2024, 10, 1), date(2024, 12, 31)),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
    ("2024-12", date(2024, 12, 1), date(2024, 12, 31)),
])
def test_a_year_a_quarter_or_a_month_names_its_days(period: str, first: date, last: date) -> None:
    p = report_period(period, None, None)
    assert (p.first, p.last, p.name) == (first, last, period)


def test_from_to_and_the_refusals() -> None:
    p = report_period(None, date(2024, 5, 1), date(2024, 5, 31))
    assert (p.first, p.last) == (date(2024, 5, 1), date(2024, 5, 31))
    assert report_period(None, None, None).name == "all"
    assert report_period(None, date(2024, 5, 1), None).last is None
    for args, field in [(("2024-13", None, None), "period"), (("2024-Q5", None, None), "period"),
                        (("2024", date(2024, 1, 1), None), "period"),
                        ((None, date(2024, 5, 2), date(2024, 5, 1)), "to"),
                        ((None, date(1900, 1, 1), date(2024, 5, 1)), "to")]:
        with pytest.raises(Invalid) as refused:
            report_period(*args)
        assert refused.value.field == field


def test_the_tables_hold_the_period_and_the_running_totals() -> None:
    r = made(report_period("2024-05", None, None))
    t = {x.key: x for x in tables(r)}
    objectives = {row[0]: row[1:] for row in t["objectives"].rows}
    # May in Algiers: two surgeries (the third is June's), one consultation, one session; to date the same.
    assert objectives["surgeries"] == (2, 2, 40, 5.0)
    assert objectives["consultations"] == (1, 1, 100, 1.0)
    money = t["money_not_spent_abroad"].rows
    assert money == [("EUR", Decimal(60000), Decimal(0), Decimal(60000), Decimal(0)),
                     ("DZD", Decimal(0), Decimal(300000), Decimal(0), Decimal(300000))] or \
        sorted(money) == sorted([("DZD", Decimal(0), Decimal(300000), Decimal(0), Decimal(300000)),
                                 ("EUR", Decimal(60000), Decimal(0), Decimal(60000), Decimal(0))])
    assert [row[0] for row in t["months"].rows] == ["2024-05"]
    # The third quarter: July's surgery in the period, everything before it to date; the placement ended in August.
    q3 = {x.key: x for x in tables(made(report_period("2024-Q3", None, None)))}
    assert {row[0]: row[1:3] for row in q3["objectives"].rows}["surgeries"] == (1, 4)
    assert {row[0]: row[1:3] for row in q3["training"].rows}["training_placements"] == (1, 1)
    months = {row[0]: row for row in q3["months"].rows}
    assert list(months) == ["2024-07"] and months["2024-07"][5] == 4  # cumulative surgeries since the beginning
    assert {row[0]: row[1:] for row in q3["surgery_outcomes"].rows}["with_complications"] == (1, 1)


def test_the_local_teams_autonomy_and_the_30_day_outcomes_are_tables_of_the_report() -> None:
    led = [("2024-05", LedTally("RACHS-1 2", 2, 1)), ("2024-07", LedTally("RACHS-1 2", 1, 1)),
           ("2024-07", LedTally("none", 1, 0))]
    steps = [Climb("karim", "Karim Haddad", (Step(LocalRole.observer, datetime(2024, 5, 27, 10, tzinfo=UTC), 1),
                                             Step(LocalRole.primary_under_supervision,
                                                  datetime(2024, 7, 2, 9, tzinfo=UTC), 1)))]
    outcomes = [OutcomeTally("RACHS-1 2", operated=3, died_at_surgery=0, recorded={"alive": 1, "readmitted": 1})]
    r = report(convention(), PARTIES, report_period("2024-Q3", None, None), TALLIES, ALGIERS, MADE,
               led=led, climbs=steps, outcomes=outcomes)
    t = {x.key: x for x in tables(r)}
    # In the third quarter July's two surgeries; to date the three of RACHS-1 2, two of them led locally.
    assert t["local_autonomy"].rows == [("RACHS-1 2", 1, 1, 3, 2, 66.7), ("none", 1, 0, 1, 0, 0.0)]
    assert t["local_practitioner_steps"].rows == [("Karim Haddad", "observer", "2024-05-27", 1),
                                                  ("Karim Haddad", "primary_under_supervision", "2024-07-02", 1)]
    assert t["outcomes_30_day"].rows == [("RACHS-1 2", 3, 2, 66.7, 0, 0.0, 1, 50.0),
                                         ("all", 3, 2, 66.7, 0, 0.0, 1, 50.0)]
    assert "Karim Haddad" in reports.html(r, "fr") and "Résultats à 30 jours" in reports.html(r, "fr")


def test_every_word_of_the_report_is_in_the_three_languages() -> None:
    keys = set(LABELS["en"])
    assert set(LABELS["fr"]) == keys and set(LABELS["ar"]) == keys
    r = made(report_period(None, None, None))
    used = {t.key for t in tables(r)} | {c for t in tables(r) for c in t.columns} | \
        {str(row[0]) for t in tables(r) if t.labelled for row in t.rows}
    assert used <= keys, used - keys


def test_the_charts_are_svg_with_numbers_only() -> None:
    for svg in (progress_bar(12, 40), progress_bar(5, 0), monthly_bars(["2024-05", "2024-06"], [[2, 1], [1, 0]]),
                monthly_bars([], [[], []])):
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        words = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        assert all(w is not None and all(ch in "0123456789.-" for ch in w) for w in words), words


@pytest.mark.parametrize("language", ["fr", "ar", "en"])
def test_the_pdf_reads_back_with_its_title_and_figures(language: str) -> None:
    r = made(report_period("2024-Q2", None, None))
    document = reports.html(r, language)
    assert f'<html lang="{language}" dir="{"rtl" if language == "ar" else "ltr"}">' in document
    pdf = reports.pdf(r, language)
    text = " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())
    assert "Chirurgie cardiaque pédiatrique au CMCI Bousmail" in text
    assert "CNAS-GSD-2024-01" in text
    assert LABELS[language]["money_not_spent_abroad"].split()[0] in text
    assert {"fr": "60 000,00", "ar": "60,000.00", "en": "60,000.00"}[language] in text  # EUR not spent abroad


def test_the_csv_files_are_the_tables() -> None:
    r = made(report_period(None, None, None))
    archive = zipfile.ZipFile(io.BytesIO(reports.csv_zip(r)))
    stem = file_stem("CNAS-GSD-2024-01", r.period)
    assert sorted(archive.namelist()) == sorted(f"{stem}/{t.key}.csv" for t in tables(r))
    rows = list(csv.reader(io.StringIO(archive.read(f"{stem}/objectives.csv").decode())))
    assert rows[0] == ["activity", "in_period", "to_date", "target", "percent_of_target"]
    assert rows[1] == ["surgeries", "4", "4", "40", "10.0"]


def test_a_file_name_keeps_only_safe_characters() -> None:
    assert file_stem("CNAS/GSD 2024..01", report_period("2024-Q2", None, None)) == "CNAS_GSD_2024..01_2024-Q2"


@pytest.mark.parametrize("language", ["fr", "ar", "en"])
def test_the_report_shows_each_year_against_its_own_objectives(language: str) -> None:
    c = convention()
    c.terms = replace(c.terms, yearly_objectives=(YearObjectives(2024, surgeries=30, consultations=5),
                                                  YearObjectives(2025, surgeries=10)))
    r = report(c, PARTIES, report_period("2024-Q2", None, None), TALLIES, ALGIERS, MADE)
    (yearly,) = [t for t in tables(r) if t.key == "yearly_objectives"]
    # The year the period is in, in full (July's surgery too); 2025 is not in the period.
    assert yearly.rows == [("2024", 4, 30, 1, 5, 1, 0)]
    pdf = reports.pdf(r, language)
    text = " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())
    assert LABELS[language]["yearly_objectives"].split()[0] in text
