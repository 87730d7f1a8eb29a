"""Moving to tables, repositories and unit of work (issue 17): first the file, then its split."""

from convention.store.repositories import *  # noqa: F403
