"""What this service knows of institutions: a replica built from ``InstitutionRegistered``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass
class KnownInstitution:
    id: uuid.UUID
    name: str
    kind: str
    country: str
    city: str
