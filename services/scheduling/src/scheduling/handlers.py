"""One function per command or incoming event: load, call the domain, save, record events."""

from __future__ import annotations


from scheduling.domain.institutions import KnownInstitution
from scheduling.store import SchedulingUnitOfWork
from jumelage.events import CloudEvent, InstitutionRegistered


async def record_institution(event: CloudEvent[InstitutionRegistered], uow: SchedulingUnitOfWork) -> None:
    data = event.data
    await uow.institutions.save(
        KnownInstitution(id=data.institution_id, name=data.name, kind=data.kind.value, country=data.country,
                         city=data.city),
        event_id=event.id,
    )


