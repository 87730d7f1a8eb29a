"""Templates: the shipped defaults and the stored overrides, read, replaced, removed."""

from __future__ import annotations

from jumelage.clock import Clock
from jumelage.errors import NotFound
from jumelage.events.notification import Channel
from notification.adapters.templates import Rendered, TemplateRenderer
from notification.domain.commands import DeleteTemplate, GetTemplate, ListTemplates, PreviewTemplate, PutTemplate
from notification.domain.contacts import Language
from notification.domain.templates import PARTS, TemplateText, sample_context
from notification.store.unit_of_work import NotificationUnitOfWork


async def list_templates(_query: ListTemplates, uow: NotificationUnitOfWork, *,
                         renderer: TemplateRenderer) -> list[tuple[str, Language, Channel, str]]:
    """Every template, shipped (``default``) or overridden (``override``), sorted."""
    async with uow:
        overrides = await uow.templates.overrides()
    found: dict[tuple[str, Language, Channel], str] = {}
    for name, language in renderer.names():
        for channel in PARTS:
            if renderer.default(name, language, channel) is not None:
                found[(name, language, channel)] = "default"
    for key in overrides:
        found[key] = "override"
    return [(n, lang, ch, src) for (n, lang, ch), src in sorted(found.items())]


async def effective_template(query: GetTemplate, uow: NotificationUnitOfWork, *,
                             renderer: TemplateRenderer) -> TemplateText:
    """The override if one is stored, else the shipped default (no fallback: this is
    what an editor would change)."""
    async with uow:
        override = await uow.templates.get(query.name, query.language, query.channel)
    if override is not None:
        return override
    default = renderer.default(query.name, query.language, query.channel)
    if default is None:
        raise NotFound(f"no {query.channel} template {query.name} in {query.language}; notifications fall back to "
                       "French, then to the generic template")
    return default


async def put_template(cmd: PutTemplate, uow: NotificationUnitOfWork, *, clock: Clock,
                       renderer: TemplateRenderer) -> TemplateText:
    async with uow:
        text = TemplateText.override(cmd.name, cmd.language, cmd.channel, cmd.parts, clock.now())
        renderer.check(text)
        await uow.templates.put(text)
        await uow.commit()
    return text


async def delete_template(cmd: DeleteTemplate, uow: NotificationUnitOfWork) -> None:
    async with uow:
        if not await uow.templates.delete(cmd.name, cmd.language, cmd.channel):
            raise NotFound(f"no override of {cmd.name}/{cmd.language}/{cmd.channel}")
        await uow.commit()


async def preview_template(query: PreviewTemplate, uow: NotificationUnitOfWork, *,
                           renderer: TemplateRenderer) -> Rendered:
    """The template rendered with the sample programme, as a notification would render it:
    the override if one is stored, else the shipped default, with the same fallbacks
    (``Rendered.template`` says which one was used)."""
    effective = await effective_template(GetTemplate(query.name, query.language, query.channel), uow,
                                         renderer=renderer)
    overrides = {(query.name, query.language, query.channel): effective} if effective.source == "override" else {}
    return renderer.render(query.name, query.language, query.channel, sample_context(query.name), overrides)
