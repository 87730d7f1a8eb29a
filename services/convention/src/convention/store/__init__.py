"""Persistence: ``tables`` (rows), ``repositories`` (the queries), ``unit_of_work`` (one transaction)."""

from convention.store.unit_of_work import ConventionUnitOfWork

__all__ = ["ConventionUnitOfWork"]
