"""Thin routers: a form or a query string -> a command -> bus.handle -> a page."""

from __future__ import annotations

from web.api import conventions, live, signin
from web.api import activities, cases, dead_letters, desk, exports, missions, privacy
from web.api.errors import install_error_pages

routers = [signin.router, conventions.router, live.router]
routers += [cases.router, activities.router, desk.router]
routers += [missions.router, dead_letters.router, privacy.router, privacy.requests, exports.router]

__all__ = ["install_error_pages", "routers"]
