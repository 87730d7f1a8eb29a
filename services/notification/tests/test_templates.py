"""Templates: the shipped defaults in three languages, Arabic right to left, French
when a translation is missing, overrides through the API (checked, escaped,
sandboxed) used by the next notification."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from jumelage.errors import Invalid
from jumelage.events.notification import Channel
from notification.domain.contacts import Language
from notification.domain.routing import notifiable_types
from notification.domain.templates import GENERIC, TemplateText
from notification.adapters.templates import DEFAULTS_DIR, TemplateRenderer, parse_sections

ALGIERS = ZoneInfo("Africa/Algiers")

CONTEXT: dict[str, Any] = {
    "type": "SurgeryScheduled",
    "subject": "surgeries/1",
    "event": None,
    "mission": {"specialty": "chirurgie cardiaque", "starts_on": date(2031, 5, 26), "ends_on": date(2031, 5, 30),
                "host": "CMCI Bousmail", "visiting": "Gruppo San Donato"},
    "convention": {"reference": "CNAS-GSD-2031-01", "title": "Chirurgie cardiaque pédiatrique"},
    "surgery": {"procedure": "Fermeture de CIV", "operating_room": "Bloc 2",
                "scheduled_start": datetime(2031, 5, 27, 7, 30, tzinfo=UTC), "patient_ref": "P-42"},
    "recipient": {"name": "Famille <Benali> & fils", "kind": "family"},
}


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(timezone=ALGIERS)


def test_every_default_has_every_part_in_every_language(renderer: TemplateRenderer) -> None:
    names = {n for n, _ in renderer.names()}
    assert GENERIC in names
    for name in names:
        for language in Language:
            for channel in Channel:
                assert renderer.default(name, language, channel) is not None, (name, language, channel)
    assert names <= {*notifiable_types(), GENERIC}, "a file for a type nobody can receive"


def test_french_english_arabic_email(renderer: TemplateRenderer) -> None:
    fr = renderer.render("SurgeryScheduled", Language.fr, Channel.email, CONTEXT)
    assert fr.template == "SurgeryScheduled/fr/email"
    assert fr.message.subject == "Intervention programmée le 27 mai 2031"
    assert "27 mai 2031 à 08:30" in fr.message.text, "07:30Z is 08:30 in Algiers"
    assert '<html lang="fr" dir="ltr">' in (fr.message.html or "")

    en = renderer.render("SurgeryScheduled", Language.en, Channel.email, CONTEXT)
    assert en.message.subject == "Surgery scheduled on 27 May 2031"

    ar = renderer.render("SurgeryScheduled", Language.ar, Channel.email, CONTEXT)
    assert ar.template == "SurgeryScheduled/ar/email"
    html = ar.message.html or ""
    assert '<html lang="ar" dir="rtl">' in html
    assert '<div dir="rtl"' in html and "text-align:right" in html
    assert "27 ماي 2031 على الساعة 08:30" in ar.message.text


@pytest.mark.parametrize("language", list(Language))
def test_a_cancellation_for_a_known_cause_is_told_in_the_family_s_own_language(
        renderer: TemplateRenderer, language: Language) -> None:
    """The service's reason is an English sentence; the cause it names is said in the
    template's language, and a coordinator's own reason is shown as typed."""
    english = "the patient is not ready for surgery on this date; the case stays on the waiting list"
    own_words = {"fr": "pas prêt pour l'intervention", "ar": "غير جاهز للعملية", "en": "not ready for surgery"}
    event = {"surgery_id": "1", "mission_id": "2", "reason": english, "cause": "not_ready"}
    told = {"family": {**CONTEXT, "type": "SurgeryCancelled", "event": event}}
    for channel in (Channel.email, Channel.sms):
        text = renderer.render("SurgeryCancelled", language, channel, told["family"]).message.text
        assert own_words[language.value] in text, (language, channel)
        if language is not Language.en:
            assert english not in text, (language, channel)
    typed = {**CONTEXT, "type": "SurgeryCancelled", "event": {**event, "reason": "salle en travaux", "cause": None}}
    assert "salle en travaux" in renderer.render("SurgeryCancelled", language, Channel.email, typed).message.text


def test_html_is_escaped_and_text_is_not(renderer: TemplateRenderer) -> None:
    rendered = renderer.render("SurgeryScheduled", Language.fr, Channel.email, CONTEXT)
    assert "Famille &lt;Benali&gt; &amp; fils" in (rendered.message.html or "")
    assert "<Benali>" not in (rendered.message.html or "")
    assert "Bonjour Famille <Benali> & fils," in rendered.message.text


def test_family_is_not_shown_the_patient_ref_but_the_surgeon_is(renderer: TemplateRenderer) -> None:
    family = renderer.render("SurgeryScheduled", Language.fr, Channel.email, CONTEXT)
    surgeon = renderer.render("SurgeryScheduled", Language.fr, Channel.email,
                              {**CONTEXT, "recipient": {"name": "", "kind": "practitioner"}})
    assert "P-42" not in family.message.text
    assert "P-42" in surgeon.message.text
    assert surgeon.message.text.startswith("Bonjour,")


def test_sms_is_one_line_and_cut_when_too_long(renderer: TemplateRenderer) -> None:
    sms = renderer.render("SurgeryScheduled", Language.fr, Channel.sms, CONTEXT)
    assert sms.message.text == "Jumelage : intervention programmée le 27 mai 2031 à 08:30 (Bloc 2)."
    long = renderer.render("SurgeryScheduled", Language.fr, Channel.sms,
                           {**CONTEXT, "surgery": {**CONTEXT["surgery"], "operating_room": "B" * 1000}})
    assert len(long.message.text) == 640 and long.message.text.endswith("…")


def test_missing_translation_falls_back_to_french(tmp_path: Path) -> None:
    shutil.copytree(DEFAULTS_DIR, tmp_path / "templates")
    (tmp_path / "templates" / "en" / "SurgeryScheduled.tmpl").unlink()
    renderer = TemplateRenderer(tmp_path / "templates", ALGIERS)
    rendered = renderer.render("SurgeryScheduled", Language.en, Channel.email, CONTEXT)
    assert rendered.template == "SurgeryScheduled/fr/email"
    assert rendered.language is Language.fr
    assert rendered.message.subject == "Intervention programmée le 27 mai 2031"
    assert '<html lang="fr" dir="ltr">' in (rendered.message.html or "")


def test_a_type_without_template_uses_the_generic_one_in_the_language(renderer: TemplateRenderer) -> None:
    rendered = renderer.render("TrainingSessionHeld", Language.ar, Channel.sms, {**CONTEXT, "type": "TrainingSessionHeld"})
    assert rendered.template == "Generic/ar/sms"
    assert "TrainingSessionHeld" in rendered.message.text


def test_override_wins_and_a_broken_one_falls_back_to_the_default(renderer: TemplateRenderer) -> None:
    now = datetime.now(UTC)
    override = TemplateText.override("SurgeryScheduled", Language.fr, Channel.sms,
                                     {"text": "RDV {{ surgery.scheduled_start|moment }}"}, now)
    rendered = renderer.render("SurgeryScheduled", Language.fr, Channel.sms, CONTEXT,
                               {("SurgeryScheduled", Language.fr, Channel.sms): override})
    assert rendered.message.text == "RDV 27 mai 2031 à 08:30"

    # Sandboxed: reaching into Python internals fails to render, and the default is used instead.
    evil = TemplateText.override("SurgeryScheduled", Language.fr, Channel.sms,
                                 {"text": "{{ recipient.__class__.__mro__[1].__subclasses__() }}"}, now)
    rendered = renderer.render("SurgeryScheduled", Language.fr, Channel.sms, CONTEXT,
                               {("SurgeryScheduled", Language.fr, Channel.sms): evil})
    assert rendered.message.text.startswith("Jumelage : intervention programmée")


def test_check_refuses_a_syntax_error_naming_the_part(renderer: TemplateRenderer) -> None:
    text = TemplateText.override("SurgeryScheduled", Language.fr, Channel.email,
                                 {"subject": "ok", "text": "ok", "html": "<p>{% if %}</p>"}, datetime.now(UTC))
    with pytest.raises(Invalid) as caught:
        renderer.check(text)
    assert caught.value.field == "html"


def test_sections_parse() -> None:
    assert parse_sections("--- subject ---\nHi\n--- text ---\nline 1\n\nline 2\n") == {
        "subject": "Hi", "text": "line 1\n\nline 2"}


# -- over the API and the broker --------------------------------------------------------------


async def test_override_through_the_api_is_used_and_can_be_removed(notification_service: Any, programme: Any) -> None:
    async with notification_service() as h:
        default = await h.client.get("/templates/SurgeryScheduled/fr/sms")
        assert default.status_code == 200, default.text
        assert default.json()["source"] == "default"
        assert default.json()["text"].startswith("Jumelage : intervention programmée")

        put = await h.client.put("/templates/SurgeryScheduled/fr/sms",
                                 json={"text": "Jumelage : {{ surgery.procedure }} le {{ surgery.scheduled_start|day }}."})
        assert put.status_code == 200, put.text
        assert put.json()["source"] == "override"
        assert (await h.client.get("/templates/SurgeryScheduled/fr/sms")).json()["source"] == "override"
        listed = (await h.client.get("/templates")).json()
        assert {"event_type": "SurgeryScheduled", "language": "fr", "channel": "sms", "source": "override"} in listed
        assert {"event_type": "SurgeryScheduled", "language": "ar", "channel": "email", "source": "default"} in listed

        await h.family(programme.patient_ref, phone="+213555123456")
        await h.given(programme.surgery_scheduled())
        await h.settled(1)
        (sms,) = h.http.to("/sms")
        assert sms.json()["text"] == "Jumelage : Fermeture de CIV le 27 mai 2031."

        assert (await h.client.delete("/templates/SurgeryScheduled/fr/sms")).status_code == 204
        assert (await h.client.get("/templates/SurgeryScheduled/fr/sms")).json()["source"] == "default"
        assert (await h.client.delete("/templates/SurgeryScheduled/fr/sms")).status_code == 404


async def test_template_input_is_checked(notification_service: Any) -> None:
    async with notification_service() as h:
        async def put(path: str, body: dict[str, Any]) -> Any:
            return await h.client.put(f"/templates/{path}", json=body)

        def loc(response: Any) -> list[list[str]]:
            assert response.status_code == 422, response.text
            return [e["loc"] for e in response.json()["detail"]]

        assert ["path", "event_type"] in loc(await put("PatientDischarged/fr/email", {"text": "x"}))
        assert ["path", "language"] in loc(await put("SurgeryScheduled/de/sms", {"text": "x"}))
        assert ["path", "channel"] in loc(await put("SurgeryScheduled/fr/fax", {"text": "x"}))
        assert ["body", "subject"] in loc(await put("SurgeryScheduled/fr/email", {"text": "x", "html": "<p>x</p>"}))
        assert ["body", "html"] in loc(await put("SurgeryScheduled/fr/sms", {"text": "x", "html": "<p>x</p>"}))
        assert ["body", "text"] in loc(await put("SurgeryScheduled/fr/sms", {"text": "{{ unclosed"}))
        assert ["body", "text"] in loc(await put("SurgeryScheduled/fr/sms", {"text": "  "}))
        ok = await put("SurgeryReminder/ar/email", {"subject": "تذكير", "text": "نص", "html": "<p>نص</p>"})
        assert ok.status_code == 200, ok.text
        assert (await h.client.get("/templates/Generic/en/webhook")).status_code == 200


async def test_english_contact_gets_french_when_english_is_missing(
    notification_service: Any, programme: Any, tmp_path: Path
) -> None:
    shutil.copytree(DEFAULTS_DIR, tmp_path / "templates")
    (tmp_path / "templates" / "en" / "MissionScheduled.tmpl").unlink()
    async with notification_service(templates_dir=tmp_path / "templates") as h:
        await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id),
                        email="a.frigiola@grupposandonato.it", language="en")
        await h.given(*programme.institutions())
        scheduled = programme.mission_scheduled()
        await h.publish(scheduled)
        (item,) = await h.settled(1, cause_event_id=str(scheduled.id))
        assert item["status"] == "sent"
        assert item["template"] == "MissionScheduled/fr/email"
        assert item["language"] == "fr"
        (mail,) = h.smtp.messages(to="a.frigiola@grupposandonato.it")
        assert mail["Subject"].strip().startswith("Mission programmée : chirurgie cardiaque à CMCI Bousmail")
        await h.tap.wait_for(lambda bodies: any(b["type"] == "NotificationSent" for b in bodies))
        assert h.tap.of_type("NotificationSent")[0]["data"]["template"] == "MissionScheduled/fr/email"


async def test_a_preview_renders_the_effective_template_with_the_sample_programme(notification_service: Any) -> None:
    async with notification_service() as h:
        r = await h.client.get("/templates/SurgeryScheduled/ar/email/preview")
        assert r.status_code == 200, r.text
        shipped = r.json()
        assert shipped["template"] == "SurgeryScheduled/ar/email" and shipped["channel"] == "email"
        assert shipped["subject"] and '<html lang="ar" dir="rtl">' in shipped["html"]
        assert "2031" in shipped["text"]  # the sample's dates, in words
        put = await h.client.put("/templates/SurgeryScheduled/fr/sms",
                                 json={"text": "Aperçu : {{ surgery.procedure }} le {{ surgery.scheduled_start|day }}."})
        assert put.status_code == 200, put.text
        preview = (await h.client.get("/templates/SurgeryScheduled/fr/sms/preview")).json()
        assert preview == {"template": "SurgeryScheduled/fr/sms", "language": "fr", "channel": "sms", "subject": None,
                           "text": "Aperçu : Ventricular septal defect closure le 27 mai 2031.", "html": None}
        assert (await h.client.get("/templates/PatientDischarged/fr/sms/preview")).status_code == 422
        with h.client.auth.acting("coordinator", institution=str(uuid.uuid4())):
            assert (await h.client.get("/templates/SurgeryScheduled/fr/sms/preview")).status_code == 403
