"""Pages rendered on the server: Jinja2 with jinja2-fragments, so one template
gives a whole page or, for an htmx request, just the block it asks for."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2_fragments.starlette import Jinja2Blocks
from starlette.requests import Request
from starlette.responses import Response

from web.adapters import languages

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


class Pages:
    def __init__(self, translations: dict[str, Any] | None = None, folder: Path = TEMPLATES) -> None:
        self.translations = translations or languages.load()
        env = Environment(loader=FileSystemLoader(folder), autoescape=select_autoescape(["html"]),
                          extensions=["jinja2.ext.i18n"], undefined=StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
        # Looked up per call: the request's language is a context variable.
        env.install_gettext_callables(  # type: ignore[attr-defined]
            gettext=lambda s: self._t().gettext(s),
            ngettext=lambda s, p, n: self._t().ngettext(s, p, n),
            newstyle=True,  # _("%(n)s cases", n=3): formatted and escaped by Jinja
        )
        env.filters.update(day=languages.day, instant=languages.instant, time=languages.clock_time,
                           number=languages.number, percent=languages.percent, money=languages.money)
        env.globals.update(direction=languages.direction, language=languages.current,
                           fresh_key=uuid.uuid4,  # each form its own Idempotency-Key (templates/_forms.html)
                           LANGUAGES=languages.LANGUAGES, LANGUAGE_NAMES=languages.NAMES)
        self.templates = Jinja2Blocks(env=env)

    def _t(self) -> Any:
        return self.translations[languages.current()]

    def gettext(self, message: str) -> str:
        return str(self._t().gettext(message))

    def render(self, request: Request, name: str, context: dict[str, Any], *, status_code: int = 200,
               block: str | None = None, headers: dict[str, str] | None = None) -> Response:
        """The page, or only ``block`` of it (an htmx request names the block it swaps)."""
        kwargs: dict[str, Any] = {"status_code": status_code, "headers": headers}
        if block:
            kwargs["block_name"] = block
        return self.templates.TemplateResponse(request, name, context, **kwargs)
