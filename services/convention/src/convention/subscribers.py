"""FastStream side: which incoming events this service handles (wire event type -> handler)."""

from __future__ import annotations

from convention.handlers import progress
from jumelage.bus import Handler
from jumelage.events import (
    ConsultationHeld,
    MissionCompleted,
    SurgeryCompleted,
    SurgeryFollowedUp,
    TrainingPlacementCompleted,
    TrainingSessionHeld,
)

# What the scheduling service reports back: the facts progress is made of.
EVENTS: dict[type, Handler] = {
    SurgeryCompleted: progress.surgery_completed,
    ConsultationHeld: progress.consultation_held,
    TrainingSessionHeld: progress.training_session_held,
    MissionCompleted: progress.mission_completed,
    TrainingPlacementCompleted: progress.training_placement_completed,
    SurgeryFollowedUp: progress.surgery_followed_up,
}
