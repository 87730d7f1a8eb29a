"""/conventions/{id}/report.pdf and /report.zip: a convention's report for a period, as a PDF in
French, Arabic or English, or its figures as CSV files; /conventions/{id}/fhir: the convention as
a FHIR R4 Bundle. Each download and export audited."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from convention import access
from convention.access import UoW
from convention.domain.commands import ConventionExport, ConventionReport
from convention.domain.report import MAX_REPORT_DAYS, PERIOD_PATTERN
from jumelage import fhir
from jumelage.api import IsoDate
from jumelage.service import BusDep, ReadAuditDep

router = APIRouter(prefix="/conventions", tags=["reports and exports"])

Period = Annotated[str | None, Query(max_length=7, pattern=PERIOD_PATTERN,
                                     description="a year (2024), a quarter (2024-Q2) or a month (2024-05), "
                                                 "in the programmes' time zone; or give from/to")]
From = Annotated[IsoDate | None, Query(alias="from", description="the period's first day (included)")]
To = Annotated[IsoDate | None, Query(alias="to", description=f"its last day (included); at most "
                                                               f"{MAX_REPORT_DAYS} days after from")]
PDF = {200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
             "description": "the report, as a PDF file (attachment)"}}
ZIP = {200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
             "description": "a zip of one CSV file per table of the report"}}


def _download(filename: str, media_type: str, content: bytes) -> Response:
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"})


@dataclass(frozen=True)
class ReportQuery:
    language: str
    period: str | None
    first: date | None
    last: date | None


def report_query(language: Annotated[Literal["fr", "ar", "en"], Query(description="the PDF's language: fr, ar "
                                                                                  "(right to left), en")] = "fr",
                 period: Period = None, first: From = None, last: To = None) -> ReportQuery:
    return ReportQuery(language, period, first, last)


# The query, read once the caller may read the convention's report.
Parsed = Annotated[ReportQuery, access.report_reader_after(report_query)]


@router.get("/{convention_id}/report.pdf", response_class=Response, responses=PDF,  # type: ignore[arg-type]
            summary="The convention's report for a period, as a PDF (French, Arabic or English)")
async def report_pdf(convention_id: uuid.UUID, q: Parsed, uow: UoW, bus: BusDep,
                     audit: ReadAuditDep) -> Response:
    doc = await bus.handle(ConventionReport(convention_id, "pdf", q.language, q.period, q.first, q.last), uow)
    await audit.record()
    return _download(doc.filename, doc.media_type, doc.content)


def zip_query(period: Period = None, first: From = None, last: To = None) -> ReportQuery:
    return ReportQuery("en", period, first, last)


@router.get("/{convention_id}/report.zip", response_class=Response, responses=ZIP,  # type: ignore[arg-type]
            summary="The figures of the convention's report for a period, one CSV file per table, zipped")
async def report_csv(convention_id: uuid.UUID, q: Annotated[ReportQuery, access.report_reader_after(zip_query)],
                     uow: UoW, bus: BusDep,
                     audit: ReadAuditDep) -> Response:
    doc = await bus.handle(ConventionReport(convention_id, "csv", period=q.period, first=q.first, last=q.last), uow)
    await audit.record()
    return _download(doc.filename, doc.media_type, doc.content)


@router.get("/{convention_id}/fhir", response_class=Response, responses=fhir.OPENAPI_RESPONSE,  # type: ignore[arg-type]
            summary="The convention as a FHIR R4 Bundle: its Contract and the parties' Organizations")
async def convention_fhir(convention_id: uuid.UUID, _: access.ReportReader, uow: UoW, bus: BusDep,
                          audit: ReadAuditDep) -> Response:
    bundle = await bus.handle(ConventionExport(convention_id), uow)
    await audit.record()
    return Response(json.dumps(bundle, ensure_ascii=False).encode(), media_type=fhir.MEDIA_TYPE,
                    headers=fhir.response_headers())
