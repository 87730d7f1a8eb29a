"""What every service's replica of another service's data shares."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from jumelage.logging import get_logger

log = get_logger(__name__)


async def save_newest(session: AsyncSession, model: Any, key: Any, as_of: datetime, values: dict[str, Any],
                      **on_create: Any) -> bool:
    """Upsert the replica row ``key`` of ``model`` (which has an ``as_of`` column)
    from an event stating the whole of it at ``as_of``. False, and nothing
    written, if the row already holds a later state: an older event arriving
    late (after a retry) does not undo a newer one. ``on_create``: columns set
    only when the row is new."""
    row = await session.get(model, key, with_for_update=True)
    if row is not None and row.as_of is not None and as_of < row.as_of:
        log.info("older event not applied: the replica holds a later state", replica=model.__tablename__,
                 key=str(key), event_time=as_of.isoformat(), replica_time=row.as_of.isoformat())
        return False
    if row is None:
        session.add(model(id=key, as_of=as_of, **on_create, **values))
        return True
    for name, value in values.items():
        setattr(row, name, value)
    row.as_of = as_of
    return True
