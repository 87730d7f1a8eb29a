"""The web app's handlers: one module per page family; each takes a query or
command and the person's view of the services (``PersonServices``)."""

from __future__ import annotations

from jumelage.bus import Handler
from web.domain.commands import (AmendConvention, ChangeConvention, DownloadReport, DraftConvention, EditDraft, ListConventions,
                                 ListInstitutions, LocalPeople, ShowConvention, SignInLocally, BeginSignIn, FinishSignIn)
from web.handlers import conventions, signin
from web.handlers import activities, cases, desk
from web.domain.commands import (ChangeCase, ChangeConsent, ChangeReadiness, EditCase, EraseIdentity, HoldActivity, PlanActivity, PreviewTemplate, RegisterCase,
                                 ShowActivities, ShowDesk, ShowWaitingList)
from web.domain.commands import (AddTeamMember, ApplyPlan, ChangeMission, ChangeOnSiteDates, FollowUpSurgery,
                                 ListMissions, ProposePlan, RemoveMissionSite, RemoveTeamMember, SetMissionSite,
                                 ShowMission, ShowOperatingList)
from web.handlers import missions, privacy
from web.domain.commands import HandleDeadLetter, ShowDeadLetter, ShowDeadLetters
from web.handlers import dead_letters
from web.domain.commands import DownloadAccessRequest, ShowAccessHistory
from web.domain.commands import DownloadFhir
from web.handlers import exports

HANDLERS: dict[type, Handler] = {
    ListConventions: conventions.list_conventions,
    ShowConvention: conventions.show_convention,
    ChangeConvention: conventions.change_convention,
    DownloadReport: conventions.download_report,
    DownloadFhir: exports.download_fhir,
    AmendConvention: conventions.amend_convention,
    DraftConvention: conventions.draft_convention,
    EditDraft: conventions.edit_draft,
    ListInstitutions: conventions.list_institutions,
    LocalPeople: signin.local_people,
    SignInLocally: signin.sign_in_locally,
    BeginSignIn: signin.begin_sign_in,
    FinishSignIn: signin.finish_sign_in,
    ShowWaitingList: cases.show_waiting_list,
    RegisterCase: cases.register_case,
    ChangeCase: cases.change_case,
    EditCase: cases.edit_case,
    ChangeReadiness: cases.change_readiness,
    ChangeConsent: cases.change_consent,
    EraseIdentity: cases.erase_identity,
    ShowActivities: activities.show_activities,
    PlanActivity: activities.plan_activity,
    HoldActivity: activities.hold_activity,
    ShowDesk: desk.show_desk,
    PreviewTemplate: desk.preview_template,
    ListMissions: missions.list_missions,
    ShowMission: missions.show_mission,
    ChangeMission: missions.change_mission,
    FollowUpSurgery: missions.follow_up_surgery,
    AddTeamMember: missions.add_team_member,
    RemoveTeamMember: missions.remove_team_member,
    ChangeOnSiteDates: missions.change_on_site_dates,
    SetMissionSite: missions.set_mission_site,
    RemoveMissionSite: missions.remove_mission_site,
    ProposePlan: missions.propose_plan,
    ApplyPlan: missions.apply_plan,
    ShowOperatingList: missions.show_operating_list,
    ShowDeadLetters: dead_letters.show_dead_letters,
    ShowDeadLetter: dead_letters.show_dead_letter,
    HandleDeadLetter: dead_letters.handle_dead_letter,
    ShowAccessHistory: privacy.show_access_history,
    DownloadAccessRequest: privacy.download_access_request,
}
