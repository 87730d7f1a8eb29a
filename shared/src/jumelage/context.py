"""Correlation context: which chain of requests/events the current work belongs to.

Set by the HTTP middleware (from ``X-Correlation-ID``) and by the event consumer
(from the envelope). Read by the outbox when it builds an outgoing envelope, and
bound to every structlog line.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id: ContextVar[str | None] = ContextVar("causation_id", default=None)


def new_id() -> str:
    return str(uuid.uuid4())


@contextmanager
def chain(*, correlation: str | None, causation: str, event_id: str | None = None) -> Iterator[str]:
    """Run a block as part of a correlation chain, caused by ``causation``.

    A missing correlation starts a new chain whose id is the causation id, so the
    first request of a programme names the chain.
    """
    corr = correlation or causation
    tokens = (correlation_id.set(corr), causation_id.set(causation))
    bound = {"correlation_id": corr}
    if event_id is not None:
        bound["event_id"] = event_id
    with structlog.contextvars.bound_contextvars(**bound):
        try:
            yield corr
        finally:
            causation_id.reset(tokens[1])
            correlation_id.reset(tokens[0])
