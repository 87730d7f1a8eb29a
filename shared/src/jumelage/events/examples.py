"""One realistic example of each event type's ``data``: what the AsyncAPI catalogue
shows a subscriber (each message's example, ``jumelage.catalogue``) and what the
contract tests build their events from (shared/tests/test_events_contract.py).

Keyword arguments of the event's model (``registry.by_type(t)(**EXAMPLES[t])``):
fixed values only, never random ones, so the documents are the same on every build.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

# --- realistic examples: the CNAS-funded paediatric cardiac surgery twinning
# between Gruppo San Donato (Milan) and CMCI Bousmail (Tipaza).
CNAS = uuid.UUID("0b6f1a52-3c1e-4d7a-9a51-5f0c2e8b7d11")
SAN_DONATO = uuid.UUID("5e2d9c4b-7a31-4f08-b6c2-1d9e0a3f4b22")
CMCI_BOUSMAIL = uuid.UUID("a91c7e30-2b5d-4c6f-8e14-3f7b9d0c5a33")
MINISTRY = uuid.UUID("c4d2e8f1-6a7b-4e3c-9d20-8b1a5f6e7c44")
CONVENTION_ID = uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
MISSION = uuid.UUID("7d3f5a91-0e2c-4b8d-a6f4-2c9e1b7d3f55")
SURGERY = uuid.UUID("e2a8c6d4-9f1b-4a3e-8c7d-6b5a4f3e2d66")
SURGEON = uuid.UUID("3c8e1f2a-5b6d-4e7f-a9b0-c1d2e3f4a577")
ANAESTHETIST = uuid.UUID("4d9f2a3b-6c7e-4f80-b1c2-d3e4f5a6b788")
PERFUSIONIST = uuid.UUID("5ea03b4c-7d8f-4091-82d3-e4f5a6b7c899")
ALGIERS = timezone(timedelta(hours=1))  # local times, to check they go out in UTC

OBJECTIVES = {"surgeries": 300, "consultations": 1200, "training_sessions": 60}

EXAMPLES: dict[str, dict[str, Any]] = {
    "InstitutionRegistered": dict(
        institution_id=CMCI_BOUSMAIL, name="Centre médico-chirurgical infantile de Bousmail",
        kind="hospital", country="DZ", city="Bou Ismaïl",
    ),
    "InstitutionUpdated": dict(
        institution_id=CMCI_BOUSMAIL, name="CMCI Bousmail", kind="clinic", country="DZ", city="Bou Ismaïl",
        wilaya="Tipaza",
    ),
    "ConventionSigned": dict(
        convention_id=CONVENTION_ID, reference="CNAS-GSD-2024-017",
        title="Jumelage en chirurgie cardiaque pédiatrique CMCI Bousmail – Gruppo San Donato",
        parties=[
            {"institution_id": SAN_DONATO, "role": "provider"},
            {"institution_id": CMCI_BOUSMAIL, "role": "beneficiary"},
            {"institution_id": CNAS, "role": "funder"},
            {"institution_id": MINISTRY, "role": "supervisor"},
        ],
        signed_on=date(2024, 5, 20), signed_at="Alger",
        effective_from=date(2024, 6, 1), effective_until=date(2027, 5, 31),
        specialties=["chirurgie cardiaque pédiatrique", "cardiologie pédiatrique"],
        objectives=OBJECTIVES,
        yearly_objectives=[
            {"year": 2024, "surgeries": 40, "consultations": 120, "training_sessions": 4},
            {"year": 2025, "surgeries": 90, "consultations": 240, "training_sessions": 8},
        ],
    ),
    "ConventionAmended": dict(
        convention_id=CONVENTION_ID, amendment_number=1,
        changes={"effective_until": date(2027, 12, 31), "objectives": {**OBJECTIVES, "surgeries": 360}},
    ),
    "ConventionSuspended": dict(convention_id=CONVENTION_ID, reason="Audit financier CNAS en cours"),
    "ConventionResumed": dict(convention_id=CONVENTION_ID, reason="Audit clos sans réserve"),
    "ConventionTerminated": dict(convention_id=CONVENTION_ID, on=date(2026, 3, 31), reason="Résiliation à l'amiable"),
    "ConventionExpired": dict(convention_id=CONVENTION_ID, on=date(2027, 12, 31), reason=""),
    "MissionScheduled": dict(
        mission_id=MISSION, convention_id=CONVENTION_ID,
        host_institution_id=CMCI_BOUSMAIL, visiting_institution_id=SAN_DONATO,
        specialty="chirurgie cardiaque pédiatrique", starts_on=date(2024, 6, 9), ends_on=date(2024, 6, 20),
        team=[
            {"practitioner_id": SURGEON, "full_name": "Marco Bellini", "role": "surgeon"},
            {"practitioner_id": ANAESTHETIST, "full_name": "Giulia Ferraro", "role": "anaesthetist"},
            {"practitioner_id": PERFUSIONIST, "full_name": "Luca Moretti", "role": "perfusionist"},
        ],
    ),
    "MissionRescheduled": dict(
        mission_id=MISSION, starts_on=date(2024, 6, 16), ends_on=date(2024, 6, 27),
        reason="Fermeture du bloc B pour maintenance",
    ),
    "MissionCancelled": dict(mission_id=MISSION, reason="Visas de l'équipe non délivrés"),
    "MissionSuspended": dict(mission_id=MISSION, convention_id=CONVENTION_ID, reason="Audit financier CNAS en cours"),
    "MissionResumed": dict(mission_id=MISSION, convention_id=CONVENTION_ID),
    "MissionTeamChanged": dict(
        mission_id=MISSION, convention_id=CONVENTION_ID, change="dates_changed", practitioner_id=PERFUSIONIST,
        team=[
            {"practitioner_id": SURGEON, "full_name": "Marco Bellini", "role": "surgeon"},
            {"practitioner_id": PERFUSIONIST, "full_name": "Luca Moretti", "role": "perfusionist",
             "home_institution_id": SAN_DONATO, "arrives_on": date(2024, 6, 11), "leaves_on": date(2024, 6, 18)},
        ],
    ),
    "MissionSitesChanged": dict(
        mission_id=MISSION, convention_id=CONVENTION_ID, change="site_added", institution_id=MINISTRY,
        sites=[{"institution_id": CMCI_BOUSMAIL, "starts_on": date(2024, 6, 9), "ends_on": date(2024, 6, 20)},
               {"institution_id": MINISTRY, "starts_on": date(2024, 6, 15), "ends_on": date(2024, 6, 20)}],
    ),
    "MissionStarted": dict(mission_id=MISSION, convention_id=CONVENTION_ID),
    "MissionCompleted": dict(
        mission_id=MISSION, convention_id=CONVENTION_ID,
        totals={"surgeries": 14, "consultations": 52, "training_sessions": 4},
    ),
    "SurgeryScheduled": dict(
        surgery_id=SURGERY, mission_id=MISSION, convention_id=CONVENTION_ID, patient_ref="PAT-2024-000142",
        procedure="Correction complète de tétralogie de Fallot", operating_room="Bloc B – salle 2",
        scheduled_start=datetime(2024, 6, 17, 8, 30, tzinfo=ALGIERS), expected_duration_minutes=240,
        lead_surgeon_id=SURGEON,
    ),
    "SurgeryRescheduled": dict(
        surgery_id=SURGERY, operating_room="Bloc A – salle 1",
        scheduled_start=datetime(2024, 6, 18, 8, 0, tzinfo=ALGIERS), reason="Patient fébrile la veille",
    ),
    "SurgeryLeadChanged": dict(surgery_id=SURGERY, mission_id=MISSION, previous_lead_surgeon_id=SURGEON,
                               lead_surgeon_id=PERFUSIONIST, reason="Le Dr Bellini rentre plus tôt"),
    "TrainingPlacementCompleted": dict(
        placement_id=uuid.UUID("a3f58091-c2d4-45e6-97c8-d9eafb0c1dee"), convention_id=CONVENTION_ID,
        kind="fellowship", specialty="chirurgie cardiaque pédiatrique", provider_institution_id=SAN_DONATO,
        beneficiary_institution_id=CMCI_BOUSMAIL, starts_on=date(2024, 9, 2), ends_on=date(2024, 10, 25),
        days_spent=40, trainees=[{"practitioner_id": PERFUSIONIST, "full_name": "Amel Benali"}],
    ),
    "SurgeryCancelled": dict(surgery_id=SURGERY, mission_id=MISSION, reason="Contre-indication anesthésique"),
    "SurgeryFollowedUp": dict(
        surgery_id=SURGERY, mission_id=MISSION, convention_id=CONVENTION_ID, outcome="alive",
        completed_at=datetime(2024, 6, 17, 12, 45, tzinfo=ALGIERS), followed_up_on=date(2024, 7, 17),
        days_after_surgery=30, risk_scheme="RACHS-1", risk_category=2,
    ),
    "PatientIdentityErased": dict(patient_ref="PAT-2024-000142", reason="request"),
    "SurgerySuspended": dict(
        surgery_id=SURGERY, mission_id=MISSION, convention_id=CONVENTION_ID, patient_ref="PAT-2024-000142",
        operating_room="Bloc B – salle 2", scheduled_start=datetime(2024, 6, 17, 8, 30, tzinfo=ALGIERS),
        reason="convention CNAS-GSD-2024-01 suspended: Audit financier CNAS en cours",
    ),
    "SurgeryResumed": dict(
        surgery_id=SURGERY, mission_id=MISSION, convention_id=CONVENTION_ID, patient_ref="PAT-2024-000142",
        operating_room="Bloc B – salle 2", scheduled_start=datetime(2024, 6, 17, 8, 30, tzinfo=ALGIERS),
    ),
    "ConsultationSuspended": dict(
        consultation_id=uuid.UUID("6fb14c5d-8e90-41a2-93e4-f5a6b7c8d9aa"), mission_id=MISSION,
        convention_id=CONVENTION_ID, patient_ref="PAT-2024-000157",
        scheduled_at=datetime(2024, 6, 10, 9, 0, tzinfo=UTC), reason="Audit financier CNAS en cours",
    ),
    "ConsultationResumed": dict(
        consultation_id=uuid.UUID("6fb14c5d-8e90-41a2-93e4-f5a6b7c8d9aa"), mission_id=MISSION,
        convention_id=CONVENTION_ID, patient_ref="PAT-2024-000157",
        scheduled_at=datetime(2024, 6, 10, 9, 0, tzinfo=UTC),
    ),
    "SurgeryCompleted": dict(
        surgery_id=SURGERY, mission_id=MISSION, convention_id=CONVENTION_ID, patient_ref="PAT-2024-000142",
        procedure="Correction complète de tétralogie de Fallot",
        completed_at=datetime(2024, 6, 18, 12, 40, tzinfo=ALGIERS), duration_minutes=255,
        outcome="successful", previously_referred_abroad=True,
    ),
    "ConsultationHeld": dict(
        consultation_id=uuid.UUID("6fb14c5d-8e90-41a2-93e4-f5a6b7c8d9aa"), mission_id=MISSION,
        convention_id=CONVENTION_ID, patient_ref="PAT-2024-000157", specialty="cardiologie pédiatrique",
        held_at=datetime(2024, 6, 10, 9, 15, tzinfo=UTC),
    ),
    "TrainingSessionHeld": dict(
        training_session_id=uuid.UUID("70c25d6e-9fa1-42b3-a4f5-a6b7c8d9eabb"), mission_id=MISSION,
        convention_id=CONVENTION_ID, topic="Circulation extracorporelle chez le nourrisson",
        held_at=datetime(2024, 6, 12, 14, 0, tzinfo=ALGIERS), hours=3.5, trainee_count=12,
    ),
    "NotificationSent": dict(
        notification_id=uuid.UUID("81d36e7f-a0b2-43c4-b5a6-b7c8d9eafbcc"), cause_event_id=uuid.UUID("b7c1d2e3-f4a5-46b7-88c9-d0e1f2a3b4c5"),
        channel="email", recipient_ref="contact:cnas-direction-generale", template="convention_signed",
    ),
    "NotificationFailed": dict(
        notification_id=uuid.UUID("92e47f80-b1c3-44d5-86b7-c8d9eafb0cdd"), cause_event_id=uuid.UUID("c8d2e3f4-a5b6-47c8-99d0-e1f2a3b4c5d6"),
        channel="sms", recipient_ref="contact:cmci-bousmail-coordination", template="surgery_rescheduled",
        error="SMS gateway answered 503 Service Unavailable", attempts=5,
    ),
}
