"""``/templates``: the shipped templates and their stored overrides (the notification desk)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from jumelage.api import Command
from jumelage.events.notification import Channel
from jumelage.service import BusDep
from notification import access
from notification.access import UoW
from notification.domain.commands import DeleteTemplate, GetTemplate, ListTemplates, PreviewTemplate, PutTemplate
from notification.domain.contacts import Language
from notification.domain.routing import notifiable_types
from notification.domain.templates import GENERIC, TemplateText


templates = APIRouter(prefix="/templates", tags=["templates"])


def _template_name(value: str) -> str:
    if value != GENERIC and value not in notifiable_types():
        raise ValueError(f"unknown event type {value!r}")
    return value


TemplateName = Annotated[str, Path(max_length=100, description="an event type, a reminder type, or Generic",
                                   json_schema_extra={"enum": [GENERIC, *notifiable_types()]}),
                         AfterValidator(_template_name)]


class TemplateIn(Command):
    """Jinja2 sources. Email: subject, text and html (a body fragment, wrapped in the
    layout with ``lang``/``dir``); SMS and webhook (the payload's summary): text."""

    # Not stripped: a template's spacing is its own.
    model_config = ConfigDict(str_strip_whitespace=False, json_schema_extra={"examples": [{
        "subject": "Mission scheduled: {{ mission.specialty }} at {{ mission.host }}",
        "text": "Hello {{ recipient.name }},\n\nThe mission starts on {{ mission.starts_on|day }}.\n",
        "html": "<p>Hello {{ recipient.name }},</p><p>The mission starts on {{ mission.starts_on|day }}.</p>"}]})

    subject: str | None = Field(default=None, max_length=1000)
    text: str = Field(min_length=1, max_length=50_000)
    html: str | None = Field(default=None, max_length=200_000)


class TemplateOut(BaseModel):
    event_type: str
    language: Language
    channel: Channel
    source: str = Field(description="default (shipped) or override (stored)")
    subject: str | None = None
    text: str
    html: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, t: TemplateText) -> TemplateOut:
        return cls(event_type=t.name, language=t.language, channel=t.channel, source=t.source,
                   updated_at=t.updated_at, **t.parts)


class TemplateListItem(BaseModel):
    event_type: str
    language: Language
    channel: Channel
    source: str


@templates.get("", response_model=list[TemplateListItem], summary="Every template, shipped or overridden",
               dependencies=[access.DESK])
async def list_templates(uow: UoW, bus: BusDep) -> list[TemplateListItem]:
    return [TemplateListItem(event_type=n, language=lang, channel=ch, source=src)
            for n, lang, ch, src in await bus.handle(ListTemplates(), uow)]


@templates.get("/{event_type}/{language}/{channel}", response_model=TemplateOut, dependencies=[access.DESK])
async def get_template(event_type: TemplateName, language: Language, channel: Channel, uow: UoW,
                       bus: BusDep) -> TemplateOut:
    return TemplateOut.of(await bus.handle(GetTemplate(event_type, language, channel), uow))


@templates.put("/{event_type}/{language}/{channel}", response_model=TemplateOut,
               summary="Override a template (compiled before it is stored)", dependencies=[access.DESK])
async def put_template(event_type: TemplateName, language: Language, channel: Channel, body: TemplateIn,
                       uow: UoW, bus: BusDep) -> TemplateOut:
    return TemplateOut.of(await bus.handle(PutTemplate(event_type, language, channel, body.model_dump()), uow))


@templates.delete("/{event_type}/{language}/{channel}", status_code=204, summary="Back to the shipped default",
                  dependencies=[access.DESK])
async def delete_template(event_type: TemplateName, language: Language, channel: Channel, uow: UoW,
                          bus: BusDep) -> Response:
    await bus.handle(DeleteTemplate(event_type, language, channel), uow)
    return Response(status_code=204)


class PreviewOut(BaseModel):
    template: str = Field(description="the template used, after any fallback: SurgeryScheduled/ar/email")
    language: Language
    channel: Channel
    subject: str | None = None
    text: str
    html: str | None = Field(default=None, description="the whole e-mail, layout included")


@templates.get("/{event_type}/{language}/{channel}/preview", response_model=PreviewOut,
               summary="The template rendered with a sample programme (no real person in it)",
               dependencies=[access.DESK])
async def preview_template(event_type: TemplateName, language: Language, channel: Channel, uow: UoW,
                           bus: BusDep) -> PreviewOut:
    rendered = await bus.handle(PreviewTemplate(event_type, language, channel), uow)
    m = rendered.message
    return PreviewOut(template=rendered.template, language=rendered.language, channel=channel, subject=m.subject,
                      text=m.text, html=m.html)
