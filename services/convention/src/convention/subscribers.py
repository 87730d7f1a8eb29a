"""FastStream side: which incoming events this service handles (envelope -> handler)."""

from __future__ import annotations

from convention import handlers
from jumelage.events import ConsultationHeld, MissionCompleted, SurgeryCompleted, TrainingSessionHeld
from jumelage.messaging.consumer import EventHandler

# What the scheduling service reports back: the facts progress is made of.
EVENT_HANDLERS: dict[type, EventHandler] = {
    SurgeryCompleted: handlers.surgery_completed,
    ConsultationHeld: handlers.consultation_held,
    TrainingSessionHeld: handlers.training_session_held,
    MissionCompleted: handlers.mission_completed,
}
