"""FHIR R4 (4.0.1) exports, the parts the services share: a ``collection`` Bundle, the
Organization of an institution, references between the Bundle's entries, and the JSON
response (``application/fhir+json``).

Plain JSON built from our records (no FHIR library at run time); the tests validate every
Bundle with ``fhir.resources``' R4B models. Pure: no I/O, no framework.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

MEDIA_TYPE = "application/fhir+json"
FHIR_VERSION = "4.0.1"
SYSTEM = "urn:jumelage"  # our code systems and identifier systems: urn:jumelage:<name>

Resource = dict[str, Any]


def system(name: str) -> str:
    return f"{SYSTEM}:{name}"


def full_url(resource_type: str, id: uuid.UUID | str) -> str:
    """An entry's fullUrl: a URN of its id (our ids are UUIDs), which references point at."""
    return f"urn:uuid:{id}"


def reference(resource_type: str, id: uuid.UUID | str, display: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"reference": full_url(resource_type, id), "type": resource_type}
    if display:
        ref["display"] = display
    return ref


def concept(code: str, name: str, text: str | None = None) -> dict[str, Any]:
    """A CodeableConcept from one of our code systems (``name``), its text the code unless told."""
    return {"coding": [{"system": system(name), "code": code}], "text": text or code.replace("_", " ")}


def instant(at: datetime) -> str:
    return at.isoformat()


def day(d: date) -> str:
    return d.isoformat()


def organization(id: uuid.UUID, name: str | None, *, kind: str | None = None, city: str | None = None,
                 country: str | None = None, district: str | None = None) -> Resource:
    """An institution. One we know only by its id (not yet in the service's replica) keeps it as
    its identifier and has no name."""
    org: Resource = {"resourceType": "Organization", "id": str(id),
                     "identifier": [{"system": system("institution"), "value": str(id)}], "active": True}
    if name:
        org["name"] = name
    if kind:
        org["type"] = [concept(kind, "institution-kind")]
    address = {k: v for k, v in (("city", city), ("district", district), ("country", country)) if v}
    if address:
        org["address"] = [address]
    return org


def bundle(id: uuid.UUID | str, resources: Iterable[Resource], *, at: datetime) -> Resource:
    """A ``collection`` Bundle of ``resources`` (each once, in the order given; a second
    resource of the same type and id is dropped)."""
    seen: set[tuple[str, str]] = set()
    entries = []
    for r in resources:
        key = (r["resourceType"], r["id"])
        if key in seen:
            continue
        seen.add(key)
        entries.append({"fullUrl": full_url(r["resourceType"], r["id"]), "resource": r})
    return {"resourceType": "Bundle", "id": str(id), "meta": {"lastUpdated": instant(at)},
            "type": "collection", "timestamp": instant(at), "entry": entries}


def pseudonymous(patient_ref: str) -> dict[str, Any]:
    """A patient as those who may not know who it is see them: the case's pseudonymous reference,
    no resource, no name."""
    return {"identifier": {"system": system("patient-ref"), "value": patient_ref}, "type": "Patient",
            "display": patient_ref}


def patient(id: uuid.UUID, patient_ref: str, *, full_name: str, birth_date: date, sex: str | None) -> Resource:
    """A patient's identity: for the host's clinicians' exports only."""
    p: Resource = {"resourceType": "Patient", "id": str(id),
                   "identifier": [{"system": system("patient-ref"), "value": patient_ref}],
                   "name": [{"text": full_name}], "birthDate": day(birth_date)}
    gender = {"male": "male", "female": "female"}.get(sex or "", "unknown")
    p["gender"] = gender
    return p


def response_headers(filename: str | None = None) -> Mapping[str, str]:
    """An export is personal to who asked (what it holds depends on their role): never cached."""
    headers = {"Cache-Control": "private, no-store"}
    if filename:
        headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return headers


# The OpenAPI of an export route: the Bundle's media type.
OPENAPI_RESPONSE = {200: {"content": {MEDIA_TYPE: {"schema": {
    "type": "object", "description": "a FHIR R4 Bundle (type collection)",
    "properties": {"resourceType": {"const": "Bundle"}, "type": {"const": "collection"},
                   "entry": {"type": "array", "items": {"type": "object"}}}}}},
    "description": "a FHIR R4 Bundle, as application/fhir+json"}}
