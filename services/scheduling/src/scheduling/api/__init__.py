"""HTTP API: body -> command -> handler -> response; a GET the same, with a query (domain/commands.py)."""

from scheduling.api import (activities, cases, conventions, exports, institutions, missions, placements, planning,
                            readiness, surgeries)
from jumelage.replica import institutions_router

# The replica's reads first: the same tag as the host resources, which share its path.
routers = [institutions_router(tags=["institutions and host resources"]), institutions.router, cases.router,
           readiness.router, conventions.router, missions.router, surgeries.router, activities.router,
           planning.router, placements.router, exports.router]

__all__ = ["routers"]
