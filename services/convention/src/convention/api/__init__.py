"""HTTP API: thin routers, one module per resource (body -> command -> bus -> response)."""

from convention.api import conventions, institutions, progress, reports

# In this order: the OpenAPI document lists the paths as they are included.
routers = [institutions.router, conventions.router, progress.router, reports.router]
