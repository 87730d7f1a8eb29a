"""Moving to one module per flow (issue 17): first the file, then its split."""

from convention.handlers.conventions import *  # noqa: F403
