"""The web app's handlers: one module per page family; each takes a query or
command and the person's view of the services (``PersonServices``)."""

from __future__ import annotations

from jumelage.bus import Handler
from web.domain.commands import (AmendConvention, ChangeConvention, DraftConvention, EditDraft, ListConventions,
                                 ListInstitutions, LocalPeople, ShowConvention, SignInLocally, BeginSignIn, FinishSignIn)
from web.handlers import conventions, signin
from web.handlers import activities, cases, desk
from web.domain.commands import (ChangeCase, ChangeReadiness, EditCase, HoldActivity, PlanActivity, PreviewTemplate, RegisterCase,
                                 ShowActivities, ShowDesk, ShowWaitingList)
from web.domain.commands import (AddTeamMember, ApplyPlan, ChangeMission, FollowUpSurgery, ListMissions, ProposePlan,
                                 RemoveTeamMember, ShowMission, ShowOperatingList)
from web.handlers import missions

HANDLERS: dict[type, Handler] = {
    ListConventions: conventions.list_conventions,
    ShowConvention: conventions.show_convention,
    ChangeConvention: conventions.change_convention,
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
    ProposePlan: missions.propose_plan,
    ApplyPlan: missions.apply_plan,
    ShowOperatingList: missions.show_operating_list,
}
