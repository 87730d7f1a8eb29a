"""Institutions: register, correct, read and search the directory."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from convention.domain.commands import GetInstitution, RegisterInstitution, SearchInstitutions, UpdateInstitution
from convention.domain.institutions import Institution, corrected
from convention.store import ConventionUnitOfWork
from jumelage.errors import Conflict, NotFound


async def register_institution(cmd: RegisterInstitution, uow: ConventionUnitOfWork) -> Institution:
    institution = Institution.register(cmd)
    async with uow:
        existing = await uow.institutions.named(institution.name, institution.city)
        if existing is not None:
            raise Conflict(
                f"institution {existing.name!r} in {existing.city} is already registered (id {existing.id})"
            )
        uow.institutions.add(institution)
        uow.record_from(institution)
        try:
            await uow.commit()
        except IntegrityError:  # registered concurrently by another request
            raise Conflict(f"institution {institution.name!r} in {institution.city} is already registered") from None
    return institution


async def update_institution(cmd: UpdateInstitution, uow: ConventionUnitOfWork) -> Institution:
    async with uow:
        current = await uow.institutions.get(cmd.institution_id)
        if current is None:
            raise NotFound(f"no institution {cmd.institution_id}")
        institution = corrected(current, cmd.changes)
        if institution == current:
            return current  # nothing changed: no event
        clash = await uow.institutions.named(institution.name, institution.city)
        if clash is not None and clash.id != institution.id:
            raise Conflict(f"institution {clash.name!r} in {clash.city} is already registered (id {clash.id})")
        await uow.institutions.save(institution)
        uow.record_from(institution)
        try:
            await uow.commit()
        except IntegrityError:
            raise Conflict(f"institution {institution.name!r} in {institution.city} is already registered") from None
    return institution


async def get_institution(query: GetInstitution, uow: ConventionUnitOfWork) -> Institution:
    async with uow:
        institution = await uow.institutions.get(query.institution_id)
    if institution is None:
        raise NotFound(f"no institution {query.institution_id}")
    return institution


async def search_institutions(query: SearchInstitutions, uow: ConventionUnitOfWork) -> tuple[list[Institution], int]:
    async with uow:
        return await uow.institutions.search(
            kind=query.kind.value if query.kind else None, country=query.country, wilaya=query.wilaya,
            city=query.city, name=query.name, limit=query.limit, offset=query.offset,
        )
