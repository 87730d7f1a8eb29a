"""Institutions: the hospitals, insurers, directorates and ministries that sign conventions.

A registration records ``InstitutionRegistered``, a correction ``InstitutionUpdated``
(``domain/events.py``). Pure: no I/O."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from convention.domain import events
from convention.domain.commands import RegisterInstitution
from jumelage.domain import Aggregate
from jumelage.errors import Invalid
from jumelage.events.convention import InstitutionKind


@dataclass
class Institution(Aggregate):
    id: uuid.UUID
    name: str
    kind: InstitutionKind
    country: str
    city: str
    wilaya: str | None = None
    registered_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def register(cls, cmd: RegisterInstitution) -> Institution:
        institution = cls._checked(cmd)
        institution.happened(events.institution_registered(institution))
        return institution

    @classmethod
    def _checked(cls, cmd: RegisterInstitution) -> Institution:
        """A new institution from these details, or Invalid naming the first wrong field."""
        name, city = cmd.name.strip(), cmd.city.strip()
        if not name:
            raise Invalid("an institution needs a name", field="name")
        if not city:
            raise Invalid("an institution needs a city", field="city")
        country = cmd.country.strip().upper()
        if len(country) != 2 or not country.isalpha():
            raise Invalid(f"country {cmd.country!r} is not an ISO 3166-1 alpha-2 code", field="country")
        wilaya = cmd.wilaya.strip() if cmd.wilaya and cmd.wilaya.strip() else None
        return cls(id=uuid.uuid4(), name=name, kind=InstitutionKind(cmd.kind), country=country,
                   city=city, wilaya=wilaya)

    @property
    def key(self) -> tuple[str, str]:
        """What makes two registrations the same institution: name and city."""
        return identity_key(self.name), identity_key(self.city)


def identity_key(text: str) -> str:
    """Case, accents and spacing do not make another institution:
    'MINISTÈRE de la Santé' and 'Ministere de la  sante' are one."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def corrected(institution: Institution, changes: dict[str, object]) -> Institution:
    """The institution with some details corrected, checked like a registration
    (``InstitutionUpdated`` recorded on it: the handler drops it if nothing changed)."""
    fields = {"name", "kind", "country", "city", "wilaya"}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise Invalid(f"cannot change {', '.join(unknown)}", field=unknown[0])
    merged = {f: getattr(institution, f) for f in fields} | changes
    checked = Institution._checked(RegisterInstitution(**merged))  # type: ignore[arg-type]
    updated = Institution(id=institution.id, name=checked.name, kind=checked.kind, country=checked.country,
                          city=checked.city, wilaya=checked.wilaya, registered_at=institution.registered_at)
    updated.happened(events.institution_updated(updated))
    return updated
