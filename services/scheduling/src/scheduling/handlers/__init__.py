"""One function per command, query or incoming event: load, call the domain, save, record events
(a query's handler only loads).

``HANDLERS``: which handler the bus runs for each command and query of ``domain/commands.py``.
"""

from jumelage import replica as institutions_replica
from scheduling.domain import commands as c
from scheduling.handlers.activities import (
    get_consultation,
    get_training_session,
    hold_consultation,
    hold_training,
    mission_consultations,
    mission_training,
    schedule_consultation,
    schedule_training,
)
from scheduling.handlers.figures import waiting_list_figures
from scheduling.handlers.cases import (
    access_request,
    add_screening_note,
    cancel_case,
    check_readiness,
    edit_case,
    erase_identity,
    expire_identities,
    get_case,
    give_consent,
    withdraw_consent,
    refer_case_elsewhere,
    register_case,
    screening_notes,
    waiting_list,
    withdraw_readiness,
)
from scheduling.handlers.missions import (
    add_team_member,
    change_on_site_dates,
    remove_mission_site,
    set_mission_site,
    cancel_mission,
    complete_mission,
    remove_team_member,
    reschedule_mission,
    schedule_mission,
    search_missions,
    start_mission,
)
from scheduling.handlers.placements import (
    cancel_placement,
    complete_placement,
    convention_placements,
    get_placement,
    plan_placement,
)
from scheduling.handlers.planning import apply_plan, propose_plan
from scheduling.handlers.replica import (
    convention_amended,
    convention_expired,
    convention_resumed,
    convention_signed,
    convention_suspended,
    convention_terminated,
    get_convention,
    list_conventions,
)
from scheduling.handlers.resources import (
    change_room,
    get_resources,
    list_rooms,
    open_room,
    remove_room,
    set_resources,
)
from scheduling.handlers.surgeries import (
    cancel_surgery,
    change_lead_surgeon,
    complete_surgery,
    follow_up_surgery,
    get_surgery,
    mission_surgeries,
    reschedule_surgery,
    schedule_surgery,
    set_local_roles,
    start_surgery,
)
from scheduling.handlers.exports import mission_export
from jumelage.bus import Handler

HANDLERS: dict[type, Handler] = {
    **institutions_replica.HANDLERS,  # the institutions known here (jumelage.replica)
    c.SetResources: set_resources,
    c.OpenRoom: open_room,
    c.ChangeRoom: change_room,
    c.RemoveRoom: remove_room,
    c.GetResources: get_resources,
    c.ListRooms: list_rooms,
    c.RegisterCase: register_case,
    c.EditCase: edit_case,
    c.CancelCase: cancel_case,
    c.ReferCaseElsewhere: refer_case_elsewhere,
    c.WaitingList: waiting_list,
    c.WaitingListFigures: waiting_list_figures,
    c.GetCase: get_case,
    c.AccessRequest: access_request,
    c.GiveConsent: give_consent,
    c.WithdrawConsent: withdraw_consent,
    c.EraseIdentity: erase_identity,
    c.ExpireIdentities: expire_identities,
    c.CheckReadiness: check_readiness,
    c.WithdrawReadiness: withdraw_readiness,
    c.AddScreeningNote: add_screening_note,
    c.ScreeningNotes: screening_notes,
    c.ScheduleMission: schedule_mission,
    c.RescheduleMission: reschedule_mission,
    c.CancelMission: cancel_mission,
    c.StartMission: start_mission,
    c.CompleteMission: complete_mission,
    c.AddTeamMember: add_team_member,
    c.ChangeOnSiteDates: change_on_site_dates,
    c.SetMissionSite: set_mission_site,
    c.RemoveMissionSite: remove_mission_site,
    c.RemoveTeamMember: remove_team_member,
    c.SearchMissions: search_missions,
    c.ScheduleSurgery: schedule_surgery,
    c.RescheduleSurgery: reschedule_surgery,
    c.CancelSurgery: cancel_surgery,
    c.ChangeLeadSurgeon: change_lead_surgeon,
    c.StartSurgery: start_surgery,
    c.CompleteSurgery: complete_surgery,
    c.SetLocalRoles: set_local_roles,
    c.FollowUpSurgery: follow_up_surgery,
    c.MissionSurgeries: mission_surgeries,
    c.MissionExport: mission_export,
    c.GetSurgery: get_surgery,
    c.ScheduleConsultation: schedule_consultation,
    c.HoldConsultation: hold_consultation,
    c.ScheduleTraining: schedule_training,
    c.HoldTraining: hold_training,
    c.MissionConsultations: mission_consultations,
    c.GetConsultation: get_consultation,
    c.MissionTraining: mission_training,
    c.GetTrainingSession: get_training_session,
    c.ProposePlan: propose_plan,
    c.ApplyPlan: apply_plan,
    c.PlanPlacement: plan_placement,
    c.CompletePlacement: complete_placement,
    c.CancelPlacement: cancel_placement,
    c.ConventionPlacements: convention_placements,
    c.GetPlacement: get_placement,
    c.ListConventions: list_conventions,
    c.GetConvention: get_convention,
}

__all__ = [
    "HANDLERS", "convention_amended", "convention_expired", "convention_resumed", "convention_signed",
    "convention_suspended", "convention_terminated",
]
