"""Replay: a subscriber that lost its queue is given again what a service published.

    python -m jumelage.replay --service convention --since-seq 1200 --queue scheduling.events --by ops-jdoe
    python -m jumelage.replay --service convention --since 2026-12-01T08:00:00Z --queue partner.q --by ops-jdoe \\
        --match 'institution.*' --match 'convention.signed'

The events come from the service's published outbox, which keeps every published
event ``OUTBOX_KEEP_DAYS`` (the **replay window**: pruning deletes a row that long
after its publication, never the newest row, so sequence numbers never restart).
Each is re-published, exactly as the relay first sent it (the stored envelope, its
event id as message id, its correlation id and type), to the queue named, through
the broker's default exchange (so it reaches that queue only, not every subscriber
of the topic), with ``x-original-routing-key`` and ``x-replayed: true``. A consumer
whose inbox still holds an event id drops the copy; the rest are handled once.

* ``--since-seq N``: the events after outbox sequence number ``N`` (the
  ``x-outbox-seq`` header of every message the relay sends); ``--after-event ID``:
  those after the event ``ID`` (the last one the subscriber handled, say from its
  inbox); ``--since T``: those whose time is ``T`` or later. A start before the window is refused (exit 1, a
  sentence): what was pruned cannot be given again.
* ``--match``: routing-key patterns (AMQP topic rules: ``*`` one word, ``#`` any);
  the default ``#`` replays everything (a consumer acks the types it has no
  handler for).
* Run it where the service runs (``DATABASE_URL``, ``DATABASE_SCHEMA``,
  ``TOPOLOGY_NAMESPACE``), with an ``AMQP_URL`` whose user may write to the default
  exchange (the broker's administrator, say: the services' own users may not).
  Each replay writes one row in the service's audit trail (``--by``, role
  ``operator``).

:func:`published_since` is what the HTTP subscriptions (:mod:`jumelage.subscriptions`)
read too; :func:`topic_matches` the filter both apply.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from jumelage.events import CONTENT_TYPE
from jumelage.messaging.consumer import ROUTING_KEY_HEADER
from jumelage.messaging.outbox import SEQ_HEADER
from jumelage.messaging.tables import OutboxRecord

REPLAYED_HEADER = "x-replayed"

BATCH = 500
MAX_PATTERNS = 20
MAX_PATTERN_LENGTH = 200
PATTERN = re.compile(r"^(\*|#|[a-z0-9_]+)(\.(\*|#|[a-z0-9_]+))*$")
"""A routing-key pattern: dot-separated words of ``a-z 0-9 _``, or ``*`` or ``#`` alone."""


class OutsideWindow(LookupError):
    """The replay would start before the oldest event the outbox still keeps."""


def check_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """The patterns, each checked (``ValueError`` names the first wrong one)."""
    found = tuple(p.strip() for p in patterns)
    if not found or len(found) > MAX_PATTERNS:
        raise ValueError(f"give 1 to {MAX_PATTERNS} routing-key patterns")
    for pattern in found:
        if len(pattern) > MAX_PATTERN_LENGTH or not PATTERN.match(pattern):
            raise ValueError(f"{pattern[:MAX_PATTERN_LENGTH]!r} is not a routing-key pattern "
                             "(dot-separated words of a-z, 0-9 and _, or * or # alone)")
    return found


def _words_match(pattern: tuple[str, ...], key: tuple[str, ...]) -> bool:
    if not pattern:
        return not key
    if pattern[0] == "#":
        return any(_words_match(pattern[1:], key[i:]) for i in range(len(key) + 1))
    return bool(key) and pattern[0] in ("*", key[0]) and _words_match(pattern[1:], key[1:])


@functools.lru_cache(maxsize=4096)
def _matches(pattern: str, routing_key: str) -> bool:
    return _words_match(tuple(pattern.split(".")), tuple(routing_key.split(".")))


def topic_matches(patterns: Sequence[str], routing_key: str) -> bool:
    """Whether ``routing_key`` matches one of ``patterns`` as a topic exchange binds."""
    return any(_matches(p, routing_key) for p in patterns)


@dataclass(frozen=True)
class Window:
    """What the outbox still keeps: the oldest published row, and the window's start."""

    oldest_seq: int | None
    oldest_time: datetime | None
    newest_seq: int | None
    starts: datetime  # now - OUTBOX_KEEP_DAYS


async def window(session: Any, *, now: datetime, keep_days: float) -> Window:
    t = OutboxRecord.__table__.c
    oldest = (await session.execute(
        select(t.seq, t.created_at).where(t.published_at.is_not(None)).order_by(t.seq).limit(1))).first()
    newest = await session.scalar(select(func.max(t.seq)))
    return Window(oldest_seq=oldest.seq if oldest else None, oldest_time=_aware(oldest.created_at) if oldest else None,
                  newest_seq=newest, starts=now - timedelta(days=keep_days))


def refuse_outside(win: Window, *, since_seq: int | None, since: datetime | None) -> None:
    """``OutsideWindow`` if a replay from there could not give every event since."""
    if since is not None and since < win.starts:
        raise OutsideWindow(
            f"{since.isoformat()} is before the replay window, which starts {win.starts.isoformat()} "
            f"(OUTBOX_KEEP_DAYS): events older than that may have been pruned")
    if since_seq is not None and win.oldest_seq is not None and since_seq + 1 < win.oldest_seq:
        raise OutsideWindow(
            f"the outbox keeps events from sequence number {win.oldest_seq} "
            f"({win.oldest_time.isoformat() if win.oldest_time else '?'}) on: those after {since_seq} and before "
            f"{win.oldest_seq} are no longer kept (OUTBOX_KEEP_DAYS); replay --since-seq {win.oldest_seq - 1} "
            "to take what is left")


async def seq_of(session: Any, event_id: Any) -> int:
    """The outbox sequence number of event ``event_id`` (``LookupError`` if the outbox has it no more)."""
    t = OutboxRecord.__table__.c
    seq = await session.scalar(select(t.seq).where(t.event_id == event_id, t.published_at.is_not(None)))
    if seq is None:
        raise LookupError(f"no published event {event_id} in this outbox: pruned past the replay window "
                          "(OUTBOX_KEEP_DAYS), not yet published, or another service's")
    return int(seq)


async def published_since(session: Any, *, after_seq: int, since: datetime | None = None,
                          patterns: Sequence[str] = ("#",), limit: int = BATCH,
                          through_seq: int | None = None) -> list[Any]:
    """Published outbox rows after ``after_seq`` (and of time ``since`` or later), in
    sequence order, whose routing key matches ``patterns``; ``limit`` rows read at most
    (the filter runs on them: fewer may come back; the last read is ``.last_seq``)."""
    t = OutboxRecord.__table__.c
    query = (select(t.seq, t.event_id, t.event_type, t.routing_key, t.correlation_id, t.envelope, t.published_at)
             .where(t.published_at.is_not(None), t.seq > after_seq).order_by(t.seq).limit(limit))
    if since is not None:
        query = query.where(t.created_at >= since)
    if through_seq is not None:
        query = query.where(t.seq <= through_seq)
    rows = list((await session.execute(query)).all())
    kept = [r for r in rows if "#" in patterns or topic_matches(patterns, r.routing_key)]
    return _Rows(kept, last_seq=rows[-1].seq if rows else None, full=len(rows) == limit)


class _Rows(list):  # type: ignore[type-arg]
    def __init__(self, rows: list[Any], *, last_seq: int | None, full: bool) -> None:
        super().__init__(rows)
        self.last_seq = last_seq
        self.full = full


@dataclass
class Replayed:
    queue: str
    count: int
    first_seq: int | None
    last_seq: int | None
    event_ids: list[str]

    def summary(self) -> dict[str, Any]:
        return {"queue": self.queue, "count": self.count, "first_seq": self.first_seq, "last_seq": self.last_seq}


async def replay(sessions: Any, amqp_url: str, *, queue: str, since_seq: int | None = None,
                 since: datetime | None = None, patterns: Sequence[str] = ("#",), keep_days: float,
                 now: datetime | None = None) -> Replayed:
    """Re-publish to ``queue`` every published event after ``since_seq`` (or from
    ``since``), in order, each confirmed by the broker before the next batch is read."""
    import aio_pika

    if (since_seq is None) == (since is None):
        raise ValueError("give a sequence number or an instant to replay from, not both")
    patterns = check_patterns(patterns)
    now = now or datetime.now(UTC)
    async with sessions() as session:
        win = await window(session, now=now, keep_days=keep_days)
    refuse_outside(win, since_seq=since_seq, since=since)
    done = Replayed(queue=queue, count=0, first_seq=None, last_seq=None, event_ids=[])
    connection = await aio_pika.connect(amqp_url)
    try:
        async with connection.channel() as probe:
            try:
                await probe.declare_queue(queue, passive=True)
            except aio_pika.exceptions.ChannelClosed as exc:
                raise LookupError(f"no queue {queue} on the broker: declare it (start its consumer) first") from exc
        async with connection.channel(publisher_confirms=True, on_return_raises=True) as channel:
            after = since_seq if since_seq is not None else 0
            through = win.newest_seq  # what was there when the replay began
            while True:
                async with sessions() as session:
                    rows = await published_since(session, after_seq=after, since=since, patterns=patterns,
                                                 through_seq=through)
                await asyncio.gather(*(channel.default_exchange.publish(_message(r), routing_key=queue,
                                                                        mandatory=True, timeout=10) for r in rows))
                for r in rows:
                    done.count += 1
                    done.first_seq = done.first_seq or r.seq
                    done.last_seq = r.seq
                    if len(done.event_ids) < 10_000:
                        done.event_ids.append(str(r.event_id))
                if not rows.full:
                    break
                after = rows.last_seq
    finally:
        await connection.close()
    return done


def _message(row: Any) -> Any:
    import aio_pika

    return aio_pika.Message(
        row.envelope.encode(), message_id=str(row.event_id), correlation_id=row.correlation_id,
        content_type=CONTENT_TYPE, type=row.event_type, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        timestamp=datetime.now(UTC),
        headers={ROUTING_KEY_HEADER: row.routing_key, REPLAYED_HEADER: True, SEQ_HEADER: int(row.seq)})


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with its offset (``2026-12-01T08:00:00Z``)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text[:60]!r} is not an ISO 8601 instant (2026-12-01T08:00:00Z)") from None
    if value.tzinfo is None:
        raise ValueError(f"{text[:60]!r} has no offset: write it in UTC with Z, or with its offset")
    return value


# -- the audit row and the command line -----------------------------------------------------------

async def audit(settings: Any, sessions: Any, done: Replayed, *, by: str, since_seq: int | None,
                since: datetime | None, patterns: Sequence[str]) -> None:
    from jumelage.audit import AUDIT_INSERT, AuditActor, record_for

    start = f"since seq {since_seq}" if since_seq is not None else f"since {since.isoformat() if since else ''}"
    actor = AuditActor(subject=by, institution_id=None, roles=("operator",),
                       action=f"REPLAY {settings.topology_namespace}{settings.service_name} outbox",
                       target=f"{done.queue} {start} match {','.join(patterns)}: {done.count} event(s), "
                              f"seq {done.first_seq}..{done.last_seq}"[:4000])
    async with sessions() as session, session.begin():
        await session.execute(AUDIT_INSERT, record_for(actor, datetime.now(UTC), [], None))


def main(argv: list[str] | None = None) -> int:
    from jumelage.arguments import ArgumentParser
    from jumelage.messaging.topology import BINDINGS
    from jumelage.settings import ServiceSettings

    parser = ArgumentParser(prog="python -m jumelage.replay",
                            description="re-publish a service's published events to a queue that lost them")
    parser.add_argument("--service", required=True, choices=sorted(BINDINGS), help="whose outbox")
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--since-seq", type=int, help="the events after this outbox sequence number")
    start.add_argument("--after-event", help="the events after this one (an event id, e.g. the last one handled)")
    start.add_argument("--since", help="the events of this ISO 8601 instant or later (2026-12-01T08:00:00Z)")
    parser.add_argument("--queue", required=True, help="the queue to put them in (it must exist)")
    parser.add_argument("--match", action="append", help="a routing-key pattern (repeat); default: every event")
    parser.add_argument("--by", required=True, help="who does it (the audit trail's subject)")
    parser.add_argument("--json", action="store_true", help="JSON output")
    args = parser.parse_args(argv)
    try:
        since = parse_instant(args.since) if args.since else None
        patterns = check_patterns(args.match or ["#"])
        after_event = uuid.UUID(args.after_event) if args.after_event else None
    except ValueError as exc:
        parser.error(str(exc) if "pattern" in str(exc) or "instant" in str(exc) or "offset" in str(exc)
                     else "--after-event: an event id (a UUID)")
    if args.since_seq is not None and not 0 <= args.since_seq < 2**63:
        parser.error("--since-seq: a sequence number from 0")
    if not 0 < len(args.queue) <= 255 or not args.by.strip() or len(args.by) > 300:
        parser.error("--queue: 1 to 255 characters; --by: 1 to 300")
    settings = ServiceSettings(service_name=args.service)
    try:
        done = asyncio.run(_run(settings, args, since, patterns, after_event))
    except LookupError as exc:
        print(str(exc).strip("'\""), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(done.summary(), indent=2))
    else:
        print(f"{done.count} event(s) re-published to {done.queue}"
              + (f" (seq {done.first_seq} to {done.last_seq})" if done.count else ""))
    return 0


async def _run(settings: Any, args: Any, since: datetime | None, patterns: Sequence[str],
               after_event: uuid.UUID | None = None) -> Replayed:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from jumelage.db import create_engine

    engine = create_engine(settings.sqlalchemy_url(), schema=settings.database_schema)
    sessions = async_sessionmaker(engine)
    try:
        if after_event is not None:
            async with sessions() as session:
                args.since_seq = await seq_of(session, after_event)
        done = await replay(sessions, settings.amqp_url, queue=args.queue, since_seq=args.since_seq, since=since,
                            patterns=patterns, keep_days=settings.outbox_keep_days)
        await audit(settings, sessions, done, by=args.by.strip(), since_seq=args.since_seq, since=since,
                    patterns=patterns)
        return done
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
