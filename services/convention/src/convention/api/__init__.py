"""Moving to one module per resource (issue 17): first the file, then its split."""

from convention.api.conventions import routers  # noqa: F401
