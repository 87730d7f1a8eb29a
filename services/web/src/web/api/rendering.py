"""What every page is rendered with."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from web.access import keep


def page(request: Request, name: str, values: dict[str, Any], *, status_code: int = 200,
         block: str | None = None) -> Response:
    """Render ``name`` with what every page needs: the person, the language, a fresh form key."""
    web = request.app.state.web
    who = getattr(request.state, "session", None)
    values = {"person": who, "csrf": who.csrf if who else "", "form_key": uuid.uuid4(),
              "local_sign_in": web.settings.local_sign_in, "path": request.url.path, "problem": None, **values}
    response = web.pages.render(request, name, values, status_code=status_code, block=block)
    if who is not None and getattr(request.state, "session_new", False) and not getattr(request.state, "session_sent", False):
        keep(request, response, who)
    return response
