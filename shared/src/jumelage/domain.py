"""What every aggregate shares: it records what happened to it.

A domain method that changes an aggregate appends the event it caused
(``self.happened(...)``), built by the service's one mapper for that event type
(``<service>/domain/events.py``). The handler then hands the aggregate to the
unit of work (``uow.record_from(aggregate)``), which writes those events to the
outbox in the change's transaction. No handler builds a wire event itself.
"""

from __future__ import annotations

from typing import Any


class Aggregate:
    """Mixin for a domain aggregate (a dataclass or a plain class)."""

    def happened(self, event: Any) -> None:
        self.__dict__.setdefault("_happened", []).append(event)

    def pull_events(self) -> list[Any]:
        """The events recorded since the last pull, oldest first (and forget them)."""
        return self.__dict__.pop("_happened", [])
