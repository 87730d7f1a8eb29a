"""The FHIR R4 exports: fetched from the service that makes each, with the person's token (the
service decides who may, writes the export down in its audit, and names patients only to the
host's clinicians)."""

from __future__ import annotations

from web.adapters.services import Download, PersonServices
from web.domain.commands import DownloadFhir

ROUTES = {  # export -> (service, path of the record's Bundle)
    "convention": ("convention", "/conventions/{id}/fhir"),
    "mission": ("scheduling", "/missions/{id}/fhir"),
    "procedures": ("scheduling", "/missions/{id}/fhir/procedures"),
}


async def download_fhir(query: DownloadFhir, services: PersonServices) -> Download:
    service, path = ROUTES[query.export]
    return await services.download(service, path.format(id=query.record_id))
