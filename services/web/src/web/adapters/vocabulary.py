"""The services' own words that pages show as values (statuses, roles, kinds,
outcomes, history actions): marked here so that they are extracted into the
catalogues and the templates can translate them with ``_(value)``.

A value missing here is shown as the service sent it (English), never dropped."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802  (gettext's name for "mark, translate later")
    return message


WORDS = (
    # convention statuses and kinds, party roles
    N_("draft"), N_("signed"), N_("suspended"), N_("terminated"), N_("expired"),
    N_("twinning"), N_("international_cooperation"), N_("framework"), N_("other"),
    N_("provider"), N_("beneficiary"), N_("funder"), N_("supervisor"),
    # what happened to a convention (its history)
    N_("drafted"), N_("edited"), N_("amended"), N_("resumed"),
    # actions
    N_("Sign"), N_("Suspend"), N_("Resume"), N_("Terminate"), N_("Amend"),
    # missions, surgeries, cases
    N_("scheduled"), N_("in_progress"), N_("completed"), N_("cancelled"), N_("on_hold"), N_("planned"),
    N_("waiting"), N_("operated"), N_("referred_elsewhere"),
    # outcomes at discharge
    N_("successful"), N_("with_complications"), N_("deceased"), N_("transferred"),
    # roles of people
    N_("administrator"), N_("coordinator"), N_("clinician"), N_("practitioner"),
    N_("surgeon"), N_("anaesthetist"), N_("perfusionist"), N_("cardiologist"), N_("nurse"),
    N_("assistant_professor"), N_("general_practitioner"), N_("resident"),
    # missions (the missions' pages)
    N_("started"), N_("intensivist"), N_("urgent"), N_("routine"), N_("priority %(n)s"),
    # a case's readiness checklist (its items)
    N_("consent_signed"), N_("tests_done"), N_("fit_for_anaesthesia"), N_("travel_arranged"),
    # the services (the dead-letter desk: one queue each)
    N_("convention"), N_("scheduling"), N_("notification"),
    # what a read of a patient's identity was (the privacy officer's page), and its role
    N_("case"), N_("case_list"), N_("export"), N_("family_contact"), N_("privacy_officer"),
)
