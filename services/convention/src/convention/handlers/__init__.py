"""One function per command, query or incoming event: load, call the domain, save, record.

``HANDLERS`` maps each command and query (``domain/commands.py``) to its handler, for the
bus; ``subscribers.EVENTS`` maps the incoming events to theirs.
"""

from convention.domain import commands as c
from convention.handlers.conventions import (
    amend_convention,
    convention_export,
    convention_history,
    discard_draft,
    draft_convention,
    edit_draft,
    expire_conventions,
    resume_convention,
    search_conventions,
    sign_convention,
    suspend_convention,
    terminate_convention,
)
from convention.handlers.institutions import (
    get_institution,
    register_institution,
    search_institutions,
    update_institution,
)
from convention.handlers.progress import (
    consultation_held,
    convention_autonomy,
    convention_outcomes,
    convention_periods,
    convention_progress,
    convention_report,
    mission_completed,
    surgery_completed,
    training_session_held,
)
from jumelage.bus import Handler

HANDLERS: dict[type, Handler] = {
    c.RegisterInstitution: register_institution,
    c.UpdateInstitution: update_institution,
    c.GetInstitution: get_institution,
    c.SearchInstitutions: search_institutions,
    c.DraftConvention: draft_convention,
    c.EditDraft: edit_draft,
    c.DiscardDraft: discard_draft,
    c.SignConvention: sign_convention,
    c.SuspendConvention: suspend_convention,
    c.ResumeConvention: resume_convention,
    c.TerminateConvention: terminate_convention,
    c.AmendConvention: amend_convention,
    c.ExpireConventions: expire_conventions,
    c.SearchConventions: search_conventions,
    c.ConventionHistory: convention_history,
    c.ConventionProgress: convention_progress,
    c.ConventionPeriods: convention_periods,
    c.ConventionAutonomy: convention_autonomy,
    c.ConventionOutcomes: convention_outcomes,
    c.ConventionReport: convention_report,
    c.ConventionExport: convention_export,
}

__all__ = [
    "HANDLERS", "amend_convention", "convention_export", "consultation_held", "convention_history", "convention_periods", "convention_progress", "convention_report",
    "discard_draft", "draft_convention", "edit_draft", "expire_conventions", "get_institution",
    "mission_completed", "register_institution", "resume_convention", "search_conventions",
    "search_institutions", "sign_convention", "surgery_completed", "suspend_convention",
    "terminate_convention", "training_session_held", "update_institution",
]
