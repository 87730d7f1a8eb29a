"""One function per command or incoming event: load, call the domain, save, record events."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from convention.domain.institutions import Institution, RegisterInstitution
from convention.store import ConventionUnitOfWork
from jumelage.errors import Conflict
from jumelage.events import InstitutionRegistered


async def register_institution(cmd: RegisterInstitution, uow: ConventionUnitOfWork) -> Institution:
    institution = Institution.register(cmd)
    async with uow:
        existing = await uow.institutions.named(institution.name, institution.city)
        if existing is not None:
            raise Conflict(
                f"institution {existing.name!r} in {existing.city} is already registered (id {existing.id})"
            )
        uow.institutions.add(institution)
        uow.record(
            InstitutionRegistered(
                institution_id=institution.id,
                name=institution.name,
                kind=institution.kind,
                country=institution.country,
                city=institution.city,
            )
        )
        try:
            await uow.commit()
        except IntegrityError:  # registered concurrently by another request
            raise Conflict(f"institution {institution.name!r} in {institution.city} is already registered") from None
    return institution
