"""A host's waiting-list figures by period: counted on read, one query per figure kind."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from scheduling.domain import figures as f
from scheduling.domain.commands import WaitingListFigures
from scheduling.handlers.common import host_zone, require_institution
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.clock import Clock


def _figures(waiting: int, registered: int, waits: list[int], left: dict[str, int]) -> dict[str, Any]:
    return {"waiting_at_end": waiting, "registered": registered, "treated": len(waits),
            "left": {str(r): left.get(str(r), 0) for r in f.LEFT_REASONS},
            "median_days_waited": f.median(waits)}


async def waiting_list_figures(query: WaitingListFigures, uow: SchedulingUnitOfWork, *,
                               clock: Clock) -> dict[str, Any]:
    by = f.Granularity(query.by)
    async with uow:
        await require_institution(uow, query.institution_id)
        tz = await host_zone(uow, query.institution_id)
        last = query.last or clock.now().astimezone(tz).date()
        first = query.first or date(last.year, 1, 1)
        periods = f.periods(by, first, last, tz)
        start, ends = periods[0].starts_at, [p.ends_at for p in periods]
        host = query.institution_id
        registered = await uow.figures.registered(host, start, ends)
        left = await uow.figures.left(host, start, ends)
        treated = await uow.figures.treated(host, start, ends[-1], query.convention_id)
        waiting = await uow.figures.waiting_at(host, ends)
    waits: dict[int, list[int]] = defaultdict(list)
    for registered_at, completed_at in treated:
        i = next(i for i, end in enumerate(ends) if completed_at < end)
        waits[i].append(f.days_waited(registered_at, completed_at, tz))
    left_by: dict[int, dict[str, int]] = defaultdict(dict)
    for (i, reason), n in left.items():
        left_by[i][reason] = n
    out = [{"period": p.label, "first_day": p.first_day, "last_day": p.last_day,
            **_figures(waiting[i], registered.get(i, 0), waits[i], left_by[i])} for i, p in enumerate(periods)]
    total_left = {str(r): sum(left_by[i].get(str(r), 0) for i in left_by) for r in f.LEFT_REASONS}
    total = _figures(waiting[-1], sum(registered.values()), [w for i in sorted(waits) for w in waits[i]], total_left)
    return {"institution_id": host, "convention_id": query.convention_id, "by": by.value,
            "from": first, "to": last, "timezone": tz.key, "periods": out,
            "total": {"first_day": first, "last_day": last, **total},
            "rule": f.rule(by, first, last, tz.key,
                           str(query.convention_id) if query.convention_id else None)}
