"""``/families/{patient_ref}/access-request``: what this service holds of a family (issue 24)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from jumelage.preconditions import read_responses
from jumelage.service import BusDep
from notification import access
from notification.access import UoW
from notification.api.contacts import ContactOut
from notification.domain.commands import FamilyAccessRequest

families = APIRouter(prefix="/families", tags=["privacy"])


class SentOut(BaseModel):
    id: uuid.UUID
    cause_type: str
    channel: str
    language: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    subject: str | None
    text: str = Field(description="what the family received")


class AccessOut(BaseModel):
    at: datetime
    subject: str
    institution_id: uuid.UUID | None
    roles: list[str]
    action: str
    what: str


class FamilyAccessRequestOut(BaseModel):
    """A family's contact, what was sent to it, who read its contact details (the scheduling
    service exports the case: ``GET /cases/{id}/access-request`` there)."""

    contact: ContactOut
    notifications: list[SentOut]
    accesses: list[AccessOut] = Field(description="who read the family's contact details, newest first")


@families.get("/{patient_ref}/access-request", response_model=FamilyAccessRequestOut,
              summary="A family's data for its access request (the keeping institution's clinician or privacy "
                      "officer)", dependencies=[access.FAMILY_ANSWERER], responses=read_responses())
async def family_access_request(patient_ref: Annotated[str, Path(min_length=1, max_length=200)], uow: UoW,
                                bus: BusDep) -> FamilyAccessRequestOut:
    found = await bus.handle(FamilyAccessRequest(patient_ref), uow)
    return FamilyAccessRequestOut(
        contact=ContactOut.of(found["contact"]),
        notifications=[SentOut(id=n.id, cause_type=n.cause_type, channel=n.channel.value, language=n.language,
                               status=n.status.value, created_at=n.created_at, sent_at=n.sent_at,
                               subject=n.message.subject, text=n.message.text) for n in found["notifications"]],
        accesses=[AccessOut(**{**a, "roles": a["roles"].split()}) for a in found["accesses"]])
