"""The event models implement version 1 of the contract (docs/events.md) exactly.

The tables below are copied by hand from the v1 contract, not derived from the code,
so that a model drifting from the published contract fails here.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from jumelage.events import (
    EventParseError,
    InvalidEvent,
    UnknownEventType,
    new_envelope,
    registry,
    routing_key_for,
)
from jumelage.events.convention import ConventionAmended
# The realistic examples (a CNAS-funded paediatric cardiac surgery twinning), shared with the catalogue.
from jumelage.events.examples import ALGIERS, CONVENTION_ID, EXAMPLES
from jumelage.events.scheduling import MissionRescheduled, MissionScheduled, SurgeryCompleted
from jumelage.events.snapshot import SCHEMAS_DIR

CONVENTION, SCHEDULING, NOTIFICATION = "/services/convention", "/services/scheduling", "/services/notification"

# type -> (source, routing key, required data fields), from the v1 contract (docs/events.md).
CONTRACT: dict[str, tuple[str, str, set[str]]] = {
    "InstitutionRegistered": (CONVENTION, "institution.registered", {
        "institution_id", "name", "kind", "country", "city",
    }),
    "ConventionSigned": (CONVENTION, "convention.signed", {
        "convention_id", "reference", "title", "parties", "signed_on", "signed_at",
        "effective_from", "effective_until", "specialties", "objectives",
    }),
    "ConventionAmended": (CONVENTION, "convention.amended", {"convention_id", "amendment_number", "changes"}),
    "ConventionSuspended": (CONVENTION, "convention.suspended", {"convention_id", "reason"}),
    "ConventionResumed": (CONVENTION, "convention.resumed", {"convention_id", "reason"}),
    "ConventionTerminated": (CONVENTION, "convention.terminated", {"convention_id", "on", "reason"}),
    "ConventionExpired": (CONVENTION, "convention.expired", {"convention_id", "on", "reason"}),
    "MissionScheduled": (SCHEDULING, "mission.scheduled", {
        "mission_id", "convention_id", "host_institution_id", "visiting_institution_id",
        "specialty", "starts_on", "ends_on", "team",
    }),
    "MissionRescheduled": (SCHEDULING, "mission.rescheduled", {"mission_id", "starts_on", "ends_on", "reason"}),
    "MissionCancelled": (SCHEDULING, "mission.cancelled", {"mission_id", "reason"}),
    "MissionStarted": (SCHEDULING, "mission.started", {"mission_id", "convention_id"}),
    "MissionCompleted": (SCHEDULING, "mission.completed", {"mission_id", "convention_id", "totals"}),
    "SurgeryScheduled": (SCHEDULING, "surgery.scheduled", {
        "surgery_id", "mission_id", "convention_id", "patient_ref", "procedure",
        "operating_room", "scheduled_start", "expected_duration_minutes", "lead_surgeon_id",
    }),
    "SurgeryRescheduled": (SCHEDULING, "surgery.rescheduled", {
        "surgery_id", "operating_room", "scheduled_start", "reason",
    }),
    "SurgeryCancelled": (SCHEDULING, "surgery.cancelled", {"surgery_id", "mission_id", "reason"}),
    "SurgeryCompleted": (SCHEDULING, "surgery.completed", {
        "surgery_id", "mission_id", "convention_id", "patient_ref", "procedure",
        "completed_at", "duration_minutes", "outcome", "previously_referred_abroad",
    }),
    "ConsultationHeld": (SCHEDULING, "consultation.held", {
        "consultation_id", "mission_id", "convention_id", "patient_ref", "specialty", "held_at",
    }),
    "TrainingSessionHeld": (SCHEDULING, "training_session.held", {
        "training_session_id", "mission_id", "convention_id", "topic", "held_at", "hours", "trainee_count",
    }),
    "NotificationSent": (NOTIFICATION, "notification.sent", {
        "notification_id", "cause_event_id", "channel", "recipient_ref", "template",
    }),
    "NotificationFailed": (NOTIFICATION, "notification.failed", {
        "notification_id", "cause_event_id", "channel", "recipient_ref", "template", "error", "attempts",
    }),
}

# What the project added, as the contract allows: new event types, and optional
# fields on contract types (never a new required field, never a rename).
ADDED_TYPES: dict[str, tuple[str, str, set[str]]] = {
    "InstitutionUpdated": (CONVENTION, "institution.updated", {
        "institution_id", "name", "kind", "country", "city",
    }),
    # A suspended convention's missions not yet started wait instead of being cancelled.
    "MissionSuspended": (SCHEDULING, "mission.suspended", {"mission_id", "convention_id", "reason"}),
    "MissionResumed": (SCHEDULING, "mission.resumed", {"mission_id", "convention_id"}),
    # A team changes after MissionScheduled: a member added or removed, an arrival or departure moved.
    "MissionTeamChanged": (SCHEDULING, "mission_team.changed", {
        "mission_id", "convention_id", "change", "practitioner_id", "team",
    }),
    # Several host sites in one mission: a site added or removed, or the mission's days at one changed.
    "MissionSitesChanged": (SCHEDULING, "mission_sites.changed", {
        "mission_id", "convention_id", "change", "institution_id", "sites",
    }),
    # A scheduled surgery led by another surgeon of the team, before it starts.
    "SurgeryLeadChanged": (SCHEDULING, "surgery_lead.changed", {
        "surgery_id", "mission_id", "previous_lead_surgeon_id", "lead_surgeon_id", "reason",
    }),
    # Local staff trained at the provider's hospital during the year, outside any mission.
    "TrainingPlacementCompleted": (SCHEDULING, "training_placement.completed", {
        "placement_id", "convention_id", "kind", "specialty", "provider_institution_id",
        "beneficiary_institution_id", "starts_on", "ends_on", "days_spent", "trainees",
    }),
    # A patient's identity erased (a family's request, or retention): the notification service forgets the family.
    "PatientIdentityErased": (SCHEDULING, "patient_identity.erased", {"patient_ref", "reason"}),
    # ... and so do their surgeries and consultations, in their slots, each told to its family.
    "SurgerySuspended": (SCHEDULING, "surgery.suspended", {
        "surgery_id", "mission_id", "convention_id", "patient_ref", "operating_room", "scheduled_start", "reason",
    }),
    "SurgeryResumed": (SCHEDULING, "surgery.resumed", {
        "surgery_id", "mission_id", "convention_id", "patient_ref", "operating_room", "scheduled_start",
    }),
    # Thirty days after a surgery, how the patient is (no patient identity, not even patient_ref).
    "SurgeryFollowedUp": (SCHEDULING, "surgery_followed.up", {
        "surgery_id", "mission_id", "convention_id", "outcome", "completed_at", "followed_up_on",
        "days_after_surgery",
    }),
    "ConsultationSuspended": (SCHEDULING, "consultation.suspended", {
        "consultation_id", "mission_id", "convention_id", "patient_ref", "scheduled_at", "reason",
    }),
    "ConsultationResumed": (SCHEDULING, "consultation.resumed", {
        "consultation_id", "mission_id", "convention_id", "patient_ref", "scheduled_at",
    }),
}
OPTIONAL_FIELDS: dict[str, set[str]] = {
    "InstitutionRegistered": {"wilaya"},
    "InstitutionUpdated": {"wilaya"},
    "ConventionSigned": {"kind", "cost_bearers", "reference_costs", "yearly_objectives"},
    "ConventionAmended": {"signed_on", "summary", "effective_from"},
    "SurgeryCompleted": {
        "specialty", "lead_side", "local_roles", "risk_scheme", "risk_category", "site_institution_id",
    },
    "SurgeryFollowedUp": {"risk_scheme", "risk_category", "specialty"},
    "SurgeryCancelled": {"cause"},
    # Several host sites in one mission: the sites (and their days), and where each activity takes place.
    "MissionScheduled": {"sites"},
    "MissionRescheduled": {"sites"},
    "SurgeryScheduled": {"site_institution_id"},
    "SurgeryRescheduled": {"site_institution_id"},
    "ConsultationHeld": {"site_institution_id"},
    "TrainingSessionHeld": {"site_institution_id"},
}
ALL_TYPES = {**CONTRACT, **ADDED_TYPES}

PRACTITIONER_ROLES = {  # not in the v1 contract: the scheduling service's list
    "surgeon", "anaesthetist", "cardiologist", "perfusionist", "intensivist",
    "nurse", "assistant_professor", "resident", "general_practitioner",
}
# (type, dotted path into data) -> allowed values, as published in the JSON schema.
ENUMS: dict[tuple[str, str], set[str]] = {
    ("InstitutionRegistered", "kind"): {
        "hospital_group", "university_hospital", "hospital", "clinic", "insurer", "health_directorate", "ministry",
    },
    ("ConventionSigned", "parties.role"): {"provider", "beneficiary", "funder", "supervisor"},
    ("MissionScheduled", "team.role"): PRACTITIONER_ROLES,
    ("MissionTeamChanged", "team.role"): PRACTITIONER_ROLES,
    ("MissionTeamChanged", "change"): {"added", "removed", "dates_changed"},
    ("MissionSitesChanged", "change"): {"site_added", "site_removed", "days_changed"},
    ("TrainingPlacementCompleted", "kind"): {"observership", "fellowship"},
    ("PatientIdentityErased", "reason"): {"request", "retention"},
    ("SurgeryCompleted", "outcome"): {"successful", "with_complications", "deceased"},
    ("SurgeryCompleted", "lead_side"): {"visiting", "local"},
    ("SurgeryCompleted", "local_roles.role"): {"observer", "assistant", "primary_under_supervision", "independent"},
    ("SurgeryFollowedUp", "outcome"): {
        "alive", "readmitted", "reoperated", "surgical_site_infection", "deceased", "lost_to_follow_up",
    },
    ("NotificationSent", "channel"): {"email", "sms", "webhook"},
    ("NotificationFailed", "channel"): {"email", "sms", "webhook"},
}

# type -> envelope subject "<collection>/<data field>".
SUBJECTS = {
    **{t: ("conventions", "convention_id") for t in CONTRACT if t.startswith("Convention")},
    "InstitutionRegistered": ("institutions", "institution_id"),
    "InstitutionUpdated": ("institutions", "institution_id"),
    **{t: ("missions", "mission_id") for t in ALL_TYPES if t.startswith("Mission")},
    **{t: ("surgeries", "surgery_id") for t in ALL_TYPES if t.startswith("Surgery")},
    **{t: ("consultations", "consultation_id") for t in ALL_TYPES if t.startswith("Consultation")},
    "TrainingSessionHeld": ("training_sessions", "training_session_id"),
    "TrainingPlacementCompleted": ("training_placements", "placement_id"),
    "PatientIdentityErased": ("cases", "patient_ref"),
    **{t: ("notifications", "notification_id") for t in CONTRACT if t.startswith("Notification")},
}

EVENT_TYPES = sorted(ALL_TYPES)
SENT_AT = datetime(2024, 5, 20, 11, 15, tzinfo=ALGIERS)


def example(event_type: str, **overrides: Any):
    return registry.by_type(event_type)(**{**EXAMPLES[event_type], **overrides})


def wire(event_type: str) -> dict[str, Any]:
    """An example event as a consumer receives it, as a JSON object."""
    envelope = new_envelope(example(event_type), correlation_id="req-42", causation_id=None, time=SENT_AT)
    return json.loads(envelope.to_json())


def resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    return defs[node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node


def non_null(node: dict[str, Any]) -> dict[str, Any]:
    """An optional field's schema (``anyOf`` with null): its non-null branch."""
    if "anyOf" in node:
        (node,) = [n for n in node["anyOf"] if n.get("type") != "null"]
    return node




# --- the registry is the contract ---------------------------------------------------


def test_registry_has_exactly_the_contract_types_and_the_declared_additions():
    assert {cls.event_type for cls in registry} == set(ALL_TYPES)


@pytest.mark.parametrize("event_type", sorted(ALL_TYPES))
def test_type_matches_contract(event_type):
    source, key, required = ALL_TYPES[event_type]
    cls = registry.by_type(event_type)
    assert cls.source == source
    assert cls.routing_key == key
    assert registry.by_routing_key(key) is cls
    assert set(cls.model_json_schema()["required"]) == required
    assert set(cls.model_fields) == required | OPTIONAL_FIELDS.get(event_type, set()), \
        "every contract field is required; extras only as declared optional additions"


@pytest.mark.parametrize("event_type", sorted(ADDED_TYPES))
def test_added_types_keep_their_family_routing_key(event_type):
    """Subscribers bind families (``mission.*``): an addition must stay in its family."""
    key = ALL_TYPES[event_type][1]
    assert registry.by_type(event_type).routing_key == key
    assert new_envelope(example(event_type), correlation_id="c", causation_id=None).routing_key == key
    noun = key.split(".")[0]
    assert event_type.lower().startswith(noun.replace("_", ""))


@pytest.mark.parametrize(("where", "values"), ENUMS.items(), ids=lambda v: ".".join(v) if isinstance(v, tuple) else "")
def test_enum_values_match_contract(where, values):
    event_type, path = where
    schema = registry.by_type(event_type).model_json_schema()
    defs, node = schema.get("$defs", {}), schema
    for part in path.split("."):
        node = resolve(non_null(resolve(node, defs)["properties"][part]), defs)
        if node.get("type") == "array":
            node = resolve(node["items"], defs)
    assert set(node["enum"]) == values


@pytest.mark.parametrize(
    ("event_type", "key"),
    [
        ("ConventionSigned", "convention.signed"),
        ("SurgeryCompleted", "surgery.completed"),
        ("TrainingSessionHeld", "training_session.held"),
    ],
)
def test_routing_key_examples_from_contract(event_type, key):
    assert routing_key_for(event_type) == key


# --- round trip ----------------------------------------------------------------------


def test_every_type_has_an_example():
    assert set(EXAMPLES) == set(ALL_TYPES)


def check_formats(value: Any, node: dict[str, Any], defs: dict[str, Any], seen: set[str]) -> None:
    """Walk a JSON value along its schema and check the contract's formats."""
    node = resolve(node, defs)
    fmt = node.get("format")
    if fmt == "uuid":
        assert str(uuid.UUID(value)) == value
    elif fmt == "date":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), value
    elif fmt == "date-time":
        assert value.endswith("Z") and datetime.fromisoformat(value).utcoffset() == timedelta(0), value
    if fmt:
        seen.add(fmt)
    for name, sub in node.get("properties", {}).items():
        if name in value:
            check_formats(value[name], sub, defs, seen)
    if node.get("type") == "array":
        for item in value:
            check_formats(item, node["items"], defs, seen)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_round_trip(event_type):
    data = example(event_type)
    envelope = new_envelope(data, correlation_id="req-42", causation_id=str(uuid.uuid4()), time=SENT_AT)
    body = envelope.to_json()

    parsed = registry.parse(body.encode())
    assert parsed == envelope
    assert parsed.data == data and type(parsed.data) is type(data)

    raw = json.loads(body)
    assert raw["specversion"] == "1.0"
    assert raw["type"] == event_type and raw["source"] == ALL_TYPES[event_type][0]
    assert raw["time"] == "2024-05-20T10:15:00Z"
    collection, field = SUBJECTS[event_type]
    assert raw["subject"] == f"{collection}/{raw['data'][field]}"

    schema = json.loads((SCHEMAS_DIR / f"{event_type}.json").read_text())
    jsonschema.validate(raw, schema)  # the published schema accepts real messages
    seen: set[str] = set()
    check_formats(raw, schema, schema.get("$defs", {}), seen)
    assert {"uuid", "date-time"} <= seen  # the walk did reach the envelope's id and time


def test_instants_are_sent_in_utc():
    raw = wire("SurgeryScheduled")
    assert raw["data"]["scheduled_start"] == "2024-06-17T07:30:00Z"
    assert raw["data"]["patient_ref"] == "PAT-2024-000142"


def test_dates_go_out_as_plain_dates():
    data = wire("ConventionSigned")["data"]
    dates = (data["signed_on"], data["effective_from"], data["effective_until"])
    assert dates == ("2024-05-20", "2024-06-01", "2027-05-31")


# --- errors a consumer must be able to report ----------------------------------------


def test_unknown_type():
    raw = {**wire("ConventionSigned"), "type": "ConventionRatified"}
    with pytest.raises(UnknownEventType) as exc:
        registry.parse(raw)
    assert "ConventionRatified" in exc.value.reason


def test_missing_data_field_is_named():
    raw = wire("ConventionSigned")
    del raw["data"]["reference"]
    with pytest.raises(InvalidEvent) as exc:
        registry.parse(json.dumps(raw))
    assert exc.value.fields == ["data.reference"]
    assert "data.reference" in exc.value.reason


@pytest.mark.parametrize(
    ("event_type", "path", "bad", "field"),
    [
        ("SurgeryCompleted", ("outcome",), "cured", "data.outcome"),
        ("NotificationSent", ("channel",), "pigeon", "data.channel"),
        ("InstitutionRegistered", ("kind",), "pharmacy", "data.kind"),
        ("ConventionSigned", ("parties", 1, "role"), "observer", "data.parties.1.role"),
        ("MissionScheduled", ("team", 0, "role"), "chef", "data.team.0.role"),
    ],
)
def test_wrong_enum_value_is_named(event_type, path, bad, field):
    raw = wire(event_type)
    node = raw["data"]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = bad
    with pytest.raises(InvalidEvent) as exc:
        registry.parse(raw)
    assert exc.value.fields == [field]


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[1, 2]", b""])
def test_non_json_body(body):
    with pytest.raises(EventParseError):
        registry.parse(body)


def test_naive_datetimes_are_rejected():
    raw = wire("SurgeryCompleted")
    raw["time"] = "2024-05-20T10:15:00"
    raw["data"]["completed_at"] = "2024-06-18T11:40:00"
    with pytest.raises(InvalidEvent) as exc:
        registry.parse(raw)
    assert set(exc.value.fields) == {"time", "data.completed_at"}
    with pytest.raises(ValidationError):
        example("SurgeryCompleted", completed_at=datetime(2024, 6, 18, 11, 40))


def test_unknown_data_field_is_ignored():
    # Producers may add optional fields without a new schema version.
    raw = wire("SurgeryCompleted")
    expected = registry.parse(raw)
    raw["data"]["icu_days"] = 3
    assert registry.parse(raw) == expected


def test_unsupported_schema_version():
    raw = {**wire("MissionStarted"), "schemaversion": 2}
    with pytest.raises(EventParseError, match="schemaversion"):
        registry.parse(raw)


# --- model rules beyond field types --------------------------------------------------


@pytest.mark.parametrize("cls", [MissionScheduled, MissionRescheduled])
def test_mission_cannot_end_before_it_starts(cls):
    with pytest.raises(ValidationError, match="ends_on"):
        cls(**{**EXAMPLES[cls.__name__], "starts_on": date(2024, 6, 20), "ends_on": date(2024, 6, 9)})
    cls(**{**EXAMPLES[cls.__name__], "starts_on": date(2024, 6, 9), "ends_on": date(2024, 6, 9)})  # one-day mission


def test_convention_period_is_ordered():
    with pytest.raises(ValidationError, match="effective_until"):
        example("ConventionSigned", effective_until=date(2024, 1, 1))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"budget": 1_000_000}, "budget"),
        ({"convention_id": str(uuid.uuid4())}, "convention_id"),  # identity is not amendable
        ({"effective_until": "soon"}, "effective_until"),  # values keep their ConventionSigned type
        ({}, "at least 1"),
    ],
)
def test_amendment_changes_are_convention_fields(changes, message):
    with pytest.raises(ValidationError, match=message):
        ConventionAmended(convention_id=CONVENTION_ID, amendment_number=2, changes=changes)


def test_amendment_values_are_typed():
    # Whether built in process or parsed off the wire, new values have their real types.
    changes = registry.parse(wire("ConventionAmended")).data.changes
    assert changes["effective_until"] == date(2027, 12, 31)
    assert changes["objectives"].surgeries == 360


def test_expiry_reason_may_be_empty_but_termination_needs_one():
    assert example("ConventionExpired").reason == ""
    with pytest.raises(ValidationError, match="reason"):
        example("ConventionTerminated", reason="")


@pytest.mark.parametrize(
    ("event_type", "field", "bad"),
    [
        ("SurgeryScheduled", "expected_duration_minutes", 0),
        ("SurgeryCompleted", "duration_minutes", -5),
        ("TrainingSessionHeld", "hours", 0),
        ("TrainingSessionHeld", "trainee_count", -1),
        ("NotificationFailed", "attempts", 0),
        ("SurgeryScheduled", "patient_ref", ""),
        ("MissionCompleted", "totals", {"surgeries": -1, "consultations": 0, "training_sessions": 0}),
        ("ConventionSigned", "objectives", {"surgeries": 1, "consultations": -1, "training_sessions": 0}),
    ],
)
def test_counts_and_durations_are_bounded(event_type, field, bad):
    with pytest.raises(ValidationError, match=field):
        example(event_type, **{field: bad})


# --- patient privacy -----------------------------------------------------------------

FORBIDDEN = {
    "patient_name", "first_name", "last_name", "date_of_birth", "birth_date", "email", "phone", "address", "notes",
}


def all_field_names(schema: dict[str, Any]) -> set[str]:
    """Every property name in a schema, nested models included."""
    names = set(schema.get("properties", {}))
    for sub in schema.get("$defs", {}).values():
        names |= set(sub.get("properties", {}))
    return names


def test_events_carry_no_patient_identity_or_contact():
    names = set().union(*(all_field_names(cls.model_json_schema()) for cls in registry))
    assert "patient_ref" in names and "full_name" in names  # the walk reaches nested models
    assert names & FORBIDDEN == set()
    # The only names are a practitioner's and an institution's.
    assert {n for n in names if "name" in n} == {"full_name", "name"}
    assert "full_name" in registry.by_type("MissionScheduled").model_json_schema()["$defs"]["TeamMember"]["properties"]
    assert "name" in registry.by_type("InstitutionRegistered").model_fields
    assert "patient_ref" in SurgeryCompleted.model_fields
