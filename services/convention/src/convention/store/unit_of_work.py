"""The convention service's unit of work: one transaction, with its repositories on it (nothing else)."""

from __future__ import annotations

from typing import Self

from convention.store.repositories import Conventions, Counters, Facts, Institutions
from jumelage.db import UnitOfWork


class ConventionUnitOfWork(UnitOfWork):
    institutions: Institutions
    conventions: Conventions
    facts: Facts
    counters: Counters

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.institutions = Institutions(self.session)
        self.conventions = Conventions(self.session)
        self.facts = Facts(self.session)
        self.counters = Counters(self.session)
        return self
