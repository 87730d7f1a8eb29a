"""A mission's team and a surgery's lead as they change (issue 19), through the real broker on
SQLite and PostgreSQL: ``MissionTeamChanged`` tells the member added, removed or whose on-site
dates changed (not the whole team), ``SurgeryLeadChanged`` the new and the previous lead, each
in their own language; the roster kept here follows the changes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from jumelage.clock import FixedClock
from jumelage.events import registry


def clock() -> FixedClock:
    return FixedClock(datetime(2031, 5, 20, 8, 0, tzinfo=UTC), "Africa/Algiers")


def team_changed(programme: Any, change: str, practitioner_id: uuid.UUID, team: list[dict[str, Any]]) -> Any:
    return programme.envelope(registry.by_type("MissionTeamChanged")(
        mission_id=programme.mission_id, convention_id=programme.convention_id, change=change,
        practitioner_id=practitioner_id, team=team))


async def test_the_member_concerned_is_told_of_a_team_change_and_both_leads_of_a_lead_change(
    notification_service: Any, programme: Any
) -> None:
    async with notification_service(clock=clock()) as h:
        surgeon = await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id),
                                  email="a.frigiola@grupposandonato.it", language="en")
        anaesthetist = await h.contact(kind="practitioner", practitioner_id=str(programme.anaesthetist_id),
                                       email="a.rossi@grupposandonato.it", language="fr")
        newcomer_id = uuid.uuid4()
        newcomer = await h.contact(kind="practitioner", practitioner_id=str(newcomer_id),
                                   email="k.meziane@chu-oran.dz", language="ar")
        await h.given(*programme.institutions(), programme.convention_signed(), programme.mission_scheduled(),
                      programme.surgery_scheduled())
        team = [{"practitioner_id": programme.surgeon_id, "full_name": "Dr Alessandro Frigiola", "role": "surgeon"},
                {"practitioner_id": programme.anaesthetist_id, "full_name": "Dr Anna Rossi", "role": "anaesthetist"}]
        joined = {"practitioner_id": newcomer_id, "full_name": "Dr Karim Meziane", "role": "surgeon",
                  "arrives_on": date(2031, 5, 28)}

        # Added: the newcomer alone, in Arabic, with their days on site.
        await h.given(team_changed(programme, "added", newcomer_id, [*team, joined]))
        (told,) = await h.settled(1, cause_type="MissionTeamChanged")
        assert (told["recipient_ref"], told["template"]) == (newcomer["recipient_ref"], "MissionTeamChanged/ar/email")
        (mail,) = h.smtp.messages(to="k.meziane@chu-oran.dz")
        assert mail["Subject"].strip() == "أنت ضمن الفريق: chirurgie cardiaque في CMCI Bousmail"
        text = mail.get_body(preferencelist=("plain",)).get_content()
        assert "28 ماي 2031" in text and "30 ماي 2031" in text, "from their arrival to the mission's last day"

        # The anaesthetist leaves earlier: told in French, nobody else.
        await h.given(team_changed(programme, "dates_changed", programme.anaesthetist_id,
                                   [team[0], {**team[1], "leaves_on": date(2031, 5, 27)}, joined]))
        (dates,) = await h.settled(1, cause_type="MissionTeamChanged", recipient_ref=anaesthetist["recipient_ref"])
        assert dates["template"] == "MissionTeamChanged/fr/email"
        (rossi,) = [m for m in h.smtp.messages(to="a.rossi@grupposandonato.it")
                    if m["Subject"].strip().startswith("Vos jours")]
        assert rossi["Subject"].strip() == "Vos jours sur place : chirurgie cardiaque à CMCI Bousmail"
        assert "Du 26 mai 2031 au 27 mai 2031" in rossi.get_body(preferencelist=("plain",)).get_content()

        # The surgery's lead changes to the newcomer: the new and the previous lead are told, each in
        # their language; the family is not.
        await h.given(programme.envelope(registry.by_type("SurgeryLeadChanged")(
            surgery_id=programme.surgery_id, mission_id=programme.mission_id,
            previous_lead_surgeon_id=programme.surgeon_id, lead_surgeon_id=newcomer_id,
            reason="Dr Frigiola rentre plus tôt")))
        leads = await h.settled(2, cause_type="SurgeryLeadChanged")
        assert {(n["recipient_ref"], n["template"]) for n in leads} == {
            (surgeon["recipient_ref"], "SurgeryLeadChanged/en/email"),
            (newcomer["recipient_ref"], "SurgeryLeadChanged/ar/email")}
        (frigiola,) = [m for m in h.smtp.messages(to="a.frigiola@grupposandonato.it")
                       if m["Subject"].strip().startswith("Lead surgeon changed")]
        body = frigiola.get_body(preferencelist=("plain",)).get_content()
        assert "Dr Karim Meziane (before: Dr Alessandro Frigiola)" in body and "Dr Frigiola rentre plus tôt" in body

        # Removed: told, though no longer on the roster.
        await h.given(team_changed(programme, "removed", newcomer_id, team))
        both = await h.settled(2, cause_type="MissionTeamChanged", recipient_ref=newcomer["recipient_ref"])
        assert [n["template"] for n in both] == ["MissionTeamChanged/ar/email"] * 2
        (bye,) = [m for m in h.smtp.messages(to="k.meziane@chu-oran.dz") if "لم تعد" in m["Subject"]]
        assert bye["Subject"].strip() == "لم تعد ضمن الفريق: chirurgie cardiaque في CMCI Bousmail"
        assert len(await h.notifications(cause_type="MissionTeamChanged")) == 3, "nobody else"
