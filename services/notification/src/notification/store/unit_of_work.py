"""The service's unit of work: one transaction and the repositories over it. Nothing
else hangs on it: the clock, the renderer, the policies and the delivery hand-over
are the handlers' own dependencies (``app.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from jumelage.db import UnitOfWork
from jumelage.replica import Institutions
from notification.store.tables import INSTITUTIONS
from notification.store.repositories import (
    Contacts, Conventions, Missions, Notifications, Reminders, Subscriptions, Surgeries, Templates,
)


class NotificationUnitOfWork(UnitOfWork):
    institutions: Institutions
    conventions: Conventions
    missions: Missions
    surgeries: Surgeries
    contacts: Contacts
    subscriptions: Subscriptions
    templates: Templates
    notifications: Notifications
    reminders: Reminders

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        s = self.session
        self.institutions, self.conventions = Institutions(s, INSTITUTIONS), Conventions(s)
        self.missions, self.surgeries = Missions(s), Surgeries(s)
        self.contacts, self.subscriptions, self.templates = Contacts(s), Subscriptions(s), Templates(s)
        self.notifications, self.reminders = Notifications(s), Reminders(s)
        self._after_commit: list[Callable[[], None]] = []
        return self

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once this transaction has committed (never if it rolls back):
        a handler hands what it created to the outside world only when it is stored."""
        self._after_commit.append(action)

    async def commit(self) -> None:
        await super().commit()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    async def rollback(self) -> None:
        await super().rollback()
        self._after_commit = []
