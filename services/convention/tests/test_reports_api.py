"""A convention's report over HTTP, on SQLite and PostgreSQL: the PDF in three languages read back,
the CSV files' figures equal to the progress API's, the periods, the access rules and the audit
row of each download."""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pypdf
import pytest
import pytest_asyncio

import convention.app
from jumelage.clock import FixedClock
from jumelage.testkit.servers import Database
from jumelage.testkit.services import deliveries, publish, running, service_settings
from jumelage.testkit.waiting import eventually

NOW = datetime(2024, 9, 2, 9, 0, tzinfo=UTC)
COSTS = [
    {"specialty": "paediatric cardiac surgery", "procedure": "arterial switch",
     "abroad": {"amount": "42000.00", "currency": "EUR"}, "here": {"amount": "400000", "currency": "DZD"}},
    {"specialty": "paediatric cardiac surgery",
     "abroad": {"amount": "30000", "currency": "EUR"}, "here": {"amount": "150000", "currency": "DZD"}},
]


class World:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.ids: dict[str, str] = {}


async def _publish(amqp_url: str, namespace: str, facts: list[Any]) -> None:
    from jumelage.events import new_envelope

    envelopes = [new_envelope(f, correlation_id="report-test", causation_id=None) for f in facts]
    with deliveries() as seen:
        conn = await aio_pika.connect(amqp_url)
        try:
            await publish(await conn.channel(), namespace, envelopes)
        finally:
            await conn.close()
        await eventually(lambda: seen.all_finished({str(e.id): 1 for e in envelopes}))


@pytest.fixture
async def world(amqp_url: str, namespace: str, database: Database) -> AsyncIterator[World]:
    """A world of the test's own: for a test that counts what the others would add (audit rows)."""
    async with seeded(amqp_url, namespace, database) as w:
        yield w


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_world(amqp_url: str, module_namespace: str, module_database: Database) -> AsyncIterator[World]:
    """One world per backend for the tests that only read it (their audit rows are their own
    correlation ids' or not read): the service, its institutions, the signed convention and its
    facts, made once instead of once a test."""
    async with seeded(amqp_url, module_namespace, module_database) as w:
        yield w


on_the_shared_world = pytest.mark.asyncio(loop_scope="module")


@contextlib.asynccontextmanager
async def seeded(amqp_url: str, namespace: str, database: Database) -> AsyncIterator[World]:
    from jumelage.events import ConsultationHeld, SurgeryCompleted, TrainingSessionHeld

    settings = service_settings(convention.app.Settings, amqp_url=amqp_url, namespace=namespace,
                                database=await database.for_service("convention"), expiry_check_interval=3600)
    async with running(convention.app.create_app(settings, FixedClock(NOW, "Africa/Algiers")),
                       convention.app.MIGRATIONS) as client:
        w = World(client)
        for key, name, kind, country, city in (
                ("cnas", "CNAS", "insurer", "DZ", "Alger"), ("gsd", "Gruppo San Donato", "hospital_group", "IT", "Milano"),
                ("cmci", "CMCI Bousmail", "clinic", "DZ", "Bou Ismail"), ("dsp", "DSP Oran", "health_directorate",
                                                                          "DZ", "Oran"),
                ("other", "EPH Tiaret", "hospital", "DZ", "Tiaret")):
            with client.auth.acting("administrator"):
                r = await client.post("/institutions", json={"name": name, "kind": kind, "country": country,
                                                             "city": city})
            w.ids[key] = r.json()["id"]
        client.auth.set("coordinator", institution=w.ids["gsd"])
        r = await client.post("/conventions", json={
            "reference": "CNAS-GSD-2024-01", "title": "Chirurgie cardiaque pédiatrique au CMCI Bousmail",
            "kind": "international_cooperation",
            "parties": [{"institution_id": w.ids["gsd"], "role": "provider"},
                        {"institution_id": w.ids["cmci"], "role": "beneficiary"},
                        {"institution_id": w.ids["cnas"], "role": "funder"},
                        {"institution_id": w.ids["dsp"], "role": "supervisor"}],
            "effective_from": "2024-05-20", "effective_until": "2025-05-19",
            "specialties": ["paediatric cardiac surgery"],
            "objectives": {"surgeries": 40, "consultations": 100, "training_sessions": 10},
            "reference_costs": COSTS})
        assert r.status_code == 201, r.text
        cid = w.ids["convention"] = r.json()["id"]
        assert (await client.post(f"/conventions/{cid}/sign",
                                  json={"signed_on": "2024-05-20", "signed_at": "Alger"})).status_code == 200
        mission = uuid.uuid4()

        def surgery(at: datetime, procedure: str, abroad: bool, outcome: str = "successful") -> Any:
            return SurgeryCompleted(surgery_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                                    patient_ref=f"P-{uuid.uuid4().hex[:8]}", procedure=procedure, completed_at=at,
                                    duration_minutes=240, outcome=outcome, previously_referred_abroad=abroad,
                                    specialty="paediatric cardiac surgery")

        await _publish(amqp_url, namespace, [
            surgery(datetime(2024, 5, 27, 10, tzinfo=UTC), "arterial switch", True),
            surgery(datetime(2024, 5, 28, 10, tzinfo=UTC), "VSD closure", True),
            surgery(datetime(2024, 5, 29, 10, tzinfo=UTC), "VSD closure", False, "with_complications"),
            surgery(datetime(2024, 7, 2, 10, tzinfo=UTC), "VSD closure", True),
            ConsultationHeld(consultation_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                             patient_ref="P-consult", specialty="paediatric cardiology",
                             held_at=datetime(2024, 5, 26, 9, tzinfo=UTC)),
            TrainingSessionHeld(training_session_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                                topic="Perfusion in neonates", held_at=datetime(2024, 5, 29, 15, tzinfo=UTC),
                                hours=3.0, trainee_count=6),
        ])
        yield w


def _csvs(content: bytes) -> dict[str, list[dict[str, str]]]:
    archive = zipfile.ZipFile(io.BytesIO(content))
    return {name.rsplit("/", 1)[-1].removesuffix(".csv"): list(csv.DictReader(io.StringIO(archive.read(name).decode())))
            for name in archive.namelist()}


@on_the_shared_world
async def test_the_csv_files_hold_the_figures_of_the_progress_api(shared_world: World) -> None:
    world = shared_world
    client, cid = world.client, world.ids["convention"]
    with client.auth.acting("funder", institution=world.ids["cnas"]):
        r = await client.get(f"/conventions/{cid}/report.zip")
        progress = (await client.get(f"/conventions/{cid}/progress")).json()
        periods = (await client.get(f"/conventions/{cid}/progress/periods")).json()["periods"]
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="CNAS-GSD-2024-01_all_csv.zip"'
    tables = _csvs(r.content)
    objectives = {row["activity"]: row for row in tables["objectives"]}
    for k in ("surgeries", "consultations", "training_sessions"):
        assert int(objectives[k]["to_date"]) == int(objectives[k]["in_period"]) == progress[k]["done"]
        assert int(objectives[k]["target"]) == progress[k]["target"]
        assert float(objectives[k]["percent_of_target"]) == progress[k]["percent"]
    outcomes = {row["outcome"]: int(row["to_date"]) for row in tables["surgery_outcomes"]}
    assert outcomes == progress["surgery_outcomes"]
    money = progress["money_not_spent_abroad"]
    referred = {row["figure"]: int(row["to_date"]) for row in tables["referred_abroad"]}
    assert referred == {"treated_locally_instead_of_abroad": money["cases"], "costed": money["costed"],
                        "uncosted": money["uncosted"]}
    by_currency = {row["currency"]: row for row in tables["money_not_spent_abroad"]}
    assert {c: by_currency[c]["abroad_to_date"] for c in by_currency if by_currency[c]["abroad_to_date"] != "0"} \
        == {a["currency"]: a["amount"] for a in money["abroad"]} == {"EUR": "102000.00"}
    assert {c: by_currency[c]["here_to_date"] for c in by_currency if by_currency[c]["here_to_date"] != "0"} \
        == {a["currency"]: a["amount"] for a in money["here"]} == {"DZD": "700000"}
    training = {row["figure"]: row["to_date"] for row in tables["training"]}
    assert float(training["training_hours"]) == progress["training_hours"]
    assert int(training["trainees"]) == progress["trainees"]
    months = {row["month"]: row for row in tables["months"]}
    assert list(months) == [p["period"] for p in periods] == ["2024-05", "2024-07"]
    for p in periods:
        for k in ("surgeries", "consultations", "training_sessions", "treated_locally_instead_of_abroad"):
            assert int(months[p["period"]][k]) == p[k]
            assert int(months[p["period"]][f"cumulative_{k}"]) == p["cumulative"][k]
    month_money = {(row["month"], row["currency"]): row["abroad"] for row in tables["months_money"]}
    assert month_money[("2024-05", "EUR")] == next(a["amount"] for a in periods[0]["money_not_spent_abroad"]["abroad"])


@on_the_shared_world
async def test_a_period_and_the_pdf_in_each_language(shared_world: World) -> None:
    world = shared_world
    client, cid = world.client, world.ids["convention"]
    with client.auth.acting("supervisor", institution=world.ids["dsp"]):
        q3 = _csvs((await client.get(f"/conventions/{cid}/report.zip", params={"period": "2024-Q3"})).content)
        may = _csvs((await client.get(f"/conventions/{cid}/report.zip",
                                      params={"from": "2024-05-01", "to": "2024-05-31"})).content)
        texts = {}
        for language in ("fr", "ar", "en"):
            r = await client.get(f"/conventions/{cid}/report.pdf", params={"language": language, "period": "2024"})
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "application/pdf"
            assert r.headers["content-disposition"] == f'attachment; filename="CNAS-GSD-2024-01_2024_{language}.pdf"'
            pages = pypdf.PdfReader(io.BytesIO(r.content)).pages
            texts[language] = " ".join(" ".join(p.extract_text() for p in pages).split())
    surgeries = {row["activity"]: (row["in_period"], row["to_date"]) for row in q3["objectives"]}["surgeries"]
    assert surgeries == ("1", "4")  # July's in the quarter; four since the beginning
    assert {row["activity"]: row["in_period"] for row in may["objectives"]}["surgeries"] == "3"
    assert [row["month"] for row in q3["months"]] == ["2024-07"]
    for language, words in (("fr", "Interventions"), ("ar", "العمليات الجراحية"), ("en", "Surgeries")):
        text = texts[language]
        assert "Chirurgie cardiaque pédiatrique au CMCI Bousmail" in text and "CMCI Bousmail" in text
        assert words in text
        # EUR 42,000 + 30,000 + 30,000 not spent abroad in 2024.
        assert {"fr": "102 000,00", "ar": "102,000.00", "en": "102,000.00"}[language] in text


async def test_who_may_download_and_the_audit_row_of_each(world: World) -> None:
    client, cid, ids = world.client, world.ids["convention"], world.ids
    pdf, zipped = f"/conventions/{cid}/report.pdf", f"/conventions/{cid}/report.zip"
    for role, institution in (("funder", ids["cnas"]), ("supervisor", ids["dsp"]), ("coordinator", ids["cmci"]),
                              ("coordinator", ids["gsd"]), ("administrator", None)):
        with client.auth.acting(role, institution=institution):
            r = await client.get(zipped, params={"period": "2024-05"})
            assert r.status_code == 200, (role, r.text)
    for role, institution in (("funder", ids["other"]), ("supervisor", ids["cnas"]), ("clinician", ids["cmci"]),
                              ("practitioner", ids["gsd"])):
        with client.auth.acting(role, institution=institution):
            r = await client.get(pdf)
            assert r.status_code == 403 and "may not" in r.json()["detail"], (role, r.text)
    with client.auth.acting("funder", institution=ids["cnas"]):
        assert (await client.get(f"/conventions/{uuid.uuid4()}/report.pdf")).status_code == 404
        for params, where in (({"period": "2024-13"}, "period"), ({"period": "2024", "from": "2024-01-01"}, "period"),
                              ({"from": "2024-06-01", "to": "2024-05-01"}, "to"), ({"language": "de"}, "language"),
                              ({"from": "1 May"}, "from"), ({"period": "x" * 50}, "period")):
            r = await client.get(pdf, params=params)
            assert r.status_code == 422, (params, r.text)
            assert where in r.text, (params, r.text)
        r = await client.get(pdf, params={"language": "ar", "period": "2024-Q2"}, headers={"X-Correlation-ID": "fund-q2"})
        assert r.status_code == 200
    with client.auth.acting("administrator"):
        audit = (await client.get("/audit", params={"limit": 500})).json()["items"]
    downloads = [a for a in audit if a["action"].startswith("GET ")]
    # One row per download that was answered: the five CSV zips and the funder's PDF; none for a refusal.
    assert sorted(a["action"] for a in downloads) == ["GET /conventions/{convention_id}/report.pdf"] + \
        ["GET /conventions/{convention_id}/report.zip"] * 5
    (row,) = [a for a in downloads if a["correlation_id"] == "fund-q2"]
    assert row["subject"] and row["institution_id"] == ids["cnas"] and row["roles"] == ["funder"]
    assert row["target"] == f"/conventions/{cid}/report.pdf?language=ar&period=2024-Q2" and row["events"] == []


# -- FHIR -------------------------------------------------------------------------------------------


@on_the_shared_world
async def test_the_convention_as_a_fhir_bundle_validates_and_names_its_parties(shared_world: World) -> None:
    from fhir.resources.R4B.bundle import Bundle

    world = shared_world

    client, cid, ids = world.client, world.ids["convention"], world.ids
    with client.auth.acting("supervisor", institution=ids["dsp"]):
        r = await client.get(f"/conventions/{cid}/fhir", headers={"X-Correlation-ID": "dsp-fhir"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/fhir+json"
    bundle = Bundle.model_validate_json(r.content)  # the R4 (4.0.1 / R4B) models: refused if it breaks them
    assert bundle.type == "collection"
    by_type: dict[str, list[Any]] = {}
    for entry in bundle.entry:
        by_type.setdefault(entry.resource.get_resource_type(), []).append(entry)
    (contract,) = by_type["Contract"]
    c = contract.resource
    assert c.identifier[0].value == "CNAS-GSD-2024-01" and c.title.startswith("Chirurgie cardiaque")
    assert c.status == "executed" and str(c.applies.start) == "2024-05-20" and str(c.applies.end) == "2025-05-19"
    organisations = {e.fullUrl: e.resource.name for e in by_type["Organization"]}
    assert sorted(organisations.values()) == ["CMCI Bousmail", "CNAS", "DSP Oran", "Gruppo San Donato"]
    parties = {p.reference[0].reference: p.role.coding[0].code for p in c.term[0].offer.party}
    assert {organisations[ref]: role for ref, role in parties.items()} == {
        "Gruppo San Donato": "provider", "CMCI Bousmail": "beneficiary", "CNAS": "funder", "DSP Oran": "supervisor"}
    costs = [t for t in c.term if t.asset]
    assert [(float(t.asset[0].valuedItem[0].net.value), t.asset[0].valuedItem[0].net.currency) for t in costs] == \
        [(42000.0, "EUR"), (30000.0, "EUR")]
    # Who may read the convention's report may read its export; another institution's funder may not.
    with client.auth.acting("funder", institution=ids["other"]):
        assert (await client.get(f"/conventions/{cid}/fhir")).status_code == 403
    with client.auth.acting("administrator"):
        assert (await client.get(f"/conventions/{uuid.uuid4()}/fhir")).status_code == 404
        audit = (await client.get("/audit", params={"correlation_id": "dsp-fhir"})).json()["items"]
    assert [a["action"] for a in audit] == ["GET /conventions/{convention_id}/fhir"]
