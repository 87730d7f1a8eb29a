"""One function per command or incoming event: load, call the domain, save, record events."""

from scheduling.handlers.activities import (
    hold_consultation,
    hold_training,
    schedule_consultation,
    schedule_training,
)
from scheduling.handlers.cases import cancel_case, refer_case_elsewhere, register_case
from scheduling.handlers.missions import (
    add_team_member,
    cancel_mission,
    complete_mission,
    remove_team_member,
    reschedule_mission,
    schedule_mission,
    start_mission,
)
from scheduling.handlers.planning import apply_plan, propose_plan
from scheduling.handlers.replica import (
    convention_amended,
    convention_expired,
    convention_resumed,
    convention_signed,
    convention_suspended,
    convention_terminated,
    record_institution,
)
from scheduling.handlers.resources import (
    SetResources,
    change_room,
    open_room,
    remove_room,
    set_resources,
)
from scheduling.handlers.surgeries import (
    cancel_surgery,
    complete_surgery,
    reschedule_surgery,
    schedule_surgery,
    start_surgery,
)

__all__ = [
    "SetResources", "add_team_member", "apply_plan", "cancel_case", "cancel_mission", "cancel_surgery", "change_room",
    "complete_mission", "complete_surgery", "convention_amended", "convention_expired", "convention_resumed",
    "convention_signed", "convention_suspended", "convention_terminated", "hold_consultation", "hold_training",
    "open_room", "propose_plan", "record_institution", "refer_case_elsewhere", "register_case", "remove_room",
    "remove_team_member", "reschedule_mission", "reschedule_surgery", "schedule_consultation",
    "schedule_mission", "schedule_surgery", "schedule_training", "set_resources", "start_mission",
    "start_surgery",
]
