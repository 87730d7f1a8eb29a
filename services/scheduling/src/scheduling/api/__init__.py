"""HTTP API: body -> command -> handler -> response; GETs read through the unit of work."""

from scheduling.api import activities, cases, conventions, institutions, missions, planning, surgeries

routers = [institutions.router, cases.router, conventions.router, missions.router, surgeries.router,
           activities.router, planning.router]

__all__ = ["routers"]
