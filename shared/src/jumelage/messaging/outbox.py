"""The outbox relay: publishes committed outbox rows, in sequence order, exactly as stored.

A batch is taken inside one transaction; on PostgreSQL that transaction first
takes an advisory lock, so with several replicas one relays at a time and the
order of the stream is kept (rows are also locked ``FOR UPDATE SKIP LOCKED``).
Messages go out persistent and mandatory, many in flight on a confirming
channel; only the leading run of confirmed rows is marked published, so a row is
never marked before the broker has it. A crash between confirm and mark
re-publishes: consumers deduplicate on the event id.

The relay does not send through FastStream's publishers: it writes aiormq
frames on FastStream's own connection and channel (the one under the exchange
FastStream declared), with the properties those publishers would set
(``publish_options``). Measured, the publisher's layers (publish command,
middlewares, exchange lookup by hash, aio-pika ``Message`` objects) cost about
half as much CPU again as the publish itself, and this is the hot path
(``scripts/bench.py`` (c)). The publishers (``event_publishers``, one per event
type) are declared for AsyncAPI to document what goes out.
"""

from __future__ import annotations

import asyncio
import functools
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aio_pika import DeliveryMode
from aiormq.abc import DeliveredMessage
from aiormq.exceptions import ChannelInvalidStateError
from pamqp.commands import Basic
from sqlalchemy import BigInteger, Integer, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jumelage import tracing
from jumelage.events import CONTENT_TYPE, CloudEvent, registry
from jumelage.logging import get_logger
from jumelage.messaging.tables import OutboxRecord
from jumelage.messaging.topology import EXCHANGE

SEQ_HEADER = "x-outbox-seq"
"""The outbox sequence number of each published event: where a replay starts (``jumelage.replay``)."""
from jumelage.tasks import spawn

if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker, RabbitExchange, RabbitPublisher

log = get_logger(__name__)


# Batches one relay transaction may take, the next read and sent while the last's confirms come back.
BATCHES_PER_TRANSACTION = 4


class RelayError(RuntimeError):
    pass


def publish_options(event_type: str) -> dict[str, Any]:
    """How every event goes out (FastStream's default is not persistent); ``_publish`` sets the same."""
    return {"persist": True, "mandatory": True, "content_type": CONTENT_TYPE, "message_type": event_type}


def event_publishers(broker: RabbitBroker, exchange: RabbitExchange, source: str) -> dict[str, RabbitPublisher]:
    """One FastStream publisher per event type ``source`` produces, keyed by routing key."""
    return {
        cls.routing_key: broker.publisher(
            exchange=exchange,
            routing_key=cls.routing_key,
            title=f"{cls.routing_key}:{cls.event_type}",
            description=(cls.__doc__ or cls.event_type).strip(),
            schema=CloudEvent[cls],  # type: ignore[valid-type]
            **publish_options(cls.event_type),
        )
        for cls in registry.from_source(source)
    }


class OutboxRelay:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        broker: RabbitBroker,
        *,
        name: str,
        exchange: RabbitExchange = EXCHANGE,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        confirm_timeout: float = 10.0,
        max_backoff: float = 10.0,
        metrics: Any = None,
    ) -> None:
        self._metrics = metrics  # jumelage.metrics.Metrics, or None
        self._sessions = sessions
        self._broker = broker
        self._exchange = exchange
        self._batch_size = batch_size
        self._mark_every = max(1, batch_size // 4)  # confirmed rows marked per statement
        self._poll_interval = poll_interval
        self._confirm_timeout = confirm_timeout
        self._max_backoff = max_backoff
        self._channel: Any = None  # FastStream's AMQP channel, looked up per batch (it changes on reconnect)
        self._lock_name = f"outbox:{name}"
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published = 0  # since start, for health and tests

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        if self._task is None:
            self._task = spawn(self.run(), name="outbox-relay")

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the batch under way (so what the broker confirmed is marked
        published, not sent again after a restart), then stop."""
        if self._task is None:
            return
        self._stopping = True
        self.wake()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=grace)
        except TimeoutError:
            self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        self._stopping = False

    async def run(self) -> None:
        backoff = 0.1
        while not self._stopping:
            try:
                sent = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: wait and try again
                log.warning("outbox relay failed, retrying", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)  # commits do not cut this short: the broker is away
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 0.1
            if sent >= self._batch_size:
                continue  # more may be waiting
            await self._sleep(self._poll_interval)

    async def _sleep(self, seconds: float) -> None:
        """Wait for a commit's wake-up, a stop, or ``seconds``."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)
        self._wakeup.clear()

    async def relay_once(self) -> int:
        """Publish pending rows, in order; return how many were marked published.

        One transaction takes up to ``BATCHES_PER_TRANSACTION`` batches: while a
        batch's confirms come back, the next batch is read and sent, so the broker
        does not wait on the database between batches. Each leading run of
        confirmed rows is marked published as it completes."""
        async with self._sessions() as session, session.begin():
            batch = await self._pending(session, after=None)
            if not batch:
                return 0  # nothing pending, or another replica is relaying
            await self._take_channel()
            mark = _mark_published(session.bind.dialect.name)
            rows: list[Any] = []
            publishes: list[asyncio.Task[Any]] = []
            sent = 0
            failure: BaseException | None = None

            def send(more: list[Any]) -> None:
                # Created in order, they reach the channel in order: the stream keeps its sequence.
                # Not spawned: each failure is retrieved by the gathers below and reported as a RelayError.
                rows.extend(more)
                publishes.extend(asyncio.create_task(self._publish(r)) for r in more)

            try:
                send(batch)
                for turn in range(1, BATCHES_PER_TRANSACTION + 1):
                    end = len(rows)
                    more = (await self._pending(session, after=batch[-1].seq)
                            if len(batch) == self._batch_size and turn < BATCHES_PER_TRANSACTION else [])
                    send(more)
                    while sent < end and failure is None:  # this batch's leading run, as confirms come back
                        results = await asyncio.gather(*publishes[sent:min(sent + self._mark_every, end)],
                                                       return_exceptions=True)
                        confirmed = 0
                        for result in results:
                            if isinstance(result, BaseException):
                                failure = result
                                break  # keep order: later rows go again after this one
                            confirmed += 1
                        if confirmed:
                            await session.execute(mark, {"seqs": [r.seq for r in rows[sent:sent + confirmed]],
                                                         "at": datetime.now(UTC)})
                            sent += confirmed
                    if failure is not None or not more:
                        break
                    batch = more
            finally:
                await asyncio.gather(*publishes, return_exceptions=True)  # none left running
            if failure is not None:
                t = OutboxRecord.__table__.c
                await session.execute(
                    update(OutboxRecord.__table__)
                    .where(t.seq == rows[sent].seq)
                    .values(attempts=t.attempts + 1, last_error=repr(failure)[:2000])
                )
        self.published += sent
        if self._metrics is not None and sent:
            self._metrics.outbox_published.inc(sent)
        if failure is not None:
            raise RelayError(f"published {sent} of {len(rows)}") from failure
        return sent

    async def _pending(self, session: AsyncSession, *, after: int | None) -> list[Any]:
        """The next batch of unpublished rows (after ``after``, those this transaction holds).

        The first batch of a transaction also takes, on PostgreSQL, the relay's
        advisory lock, in the same statement (one round trip less on every
        wake-up): no rows if another replica holds it, so one relays at a time
        and the stream keeps its order. Keyed by schema too, as an advisory lock
        spans the whole database. The lock is an uncorrelated subquery, which
        PostgreSQL evaluates once, before the scan. SQLite: the write lock
        serialises relays."""
        query = _pending_query(session.bind.dialect.name, first=after is None)
        return list((await session.execute(
            query, {"lock_name": self._lock_name, "after": after, "size": self._batch_size})).all())

    async def _take_channel(self) -> None:
        """FastStream's exchange (declared at start-up) and, under it, the channel of the moment."""
        target = await self._broker.declare_exchange(self._exchange)
        if target.channel.is_closed:  # fail now: waiting for a reconnect would hold the rows' locks
            raise ChannelInvalidStateError(f"{target.channel!r} closed")
        self._channel = await asyncio.wait_for(target.channel.get_underlay_channel(), self._confirm_timeout)

    async def _publish(self, row: Any) -> Any:
        if not tracing.recording():
            return await self._send(row)
        # A producer span, child of the span that recorded the event (its traceparent).
        with tracing.tracer().start_as_current_span(
            f"publish {row.event_type}", context=tracing.parent_context(tracing.traceparent_in(row.envelope)),
            kind=tracing.SpanKind.PRODUCER,
            attributes={"messaging.system": "rabbitmq", "messaging.operation.type": "send",
                        "messaging.destination.name": self._exchange.name, "messaging.message.id": str(row.event_id),
                        "messaging.rabbitmq.destination.routing_key": row.routing_key},
        ):
            return await self._send(row)

    async def _send(self, row: Any) -> Any:
        properties = Basic.Properties(
            content_type=CONTENT_TYPE,
            delivery_mode=DeliveryMode.PERSISTENT.value,
            message_id=str(row.event_id),
            correlation_id=row.correlation_id,
            message_type=row.event_type,
            timestamp=datetime.now(UTC),
            headers={SEQ_HEADER: row.seq},  # where a replay of this stream starts (jumelage.replay)
        )
        result = await self._channel.basic_publish(
            row.envelope.encode(), exchange=self._exchange.name, routing_key=row.routing_key,
            properties=properties, mandatory=True, timeout=self._confirm_timeout, wait=False,
        )
        if isinstance(result, DeliveredMessage):
            # Confirmed but returned: no queue is bound for this key. The broker
            # has done its part; nobody subscribes to this event type yet.
            log.info("event unroutable", event_type=row.event_type, event_id=str(row.event_id))
        return result


_LEAD = select(text("pg_try_advisory_xact_lock(hashtext(:lock_name || '@' || current_schema()))"))

@functools.cache
def _pending_query(dialect: str, *, first: bool) -> Any:
    """The pending rows' SELECT, built once per dialect: a transaction's first
    batch (with the advisory lock on PostgreSQL) or a later one (``seq > :after``).
    Plain rows, not ORM objects: this is the hot path."""
    t = OutboxRecord.__table__.c
    query = select(t.seq, t.event_id, t.event_type, t.routing_key, t.correlation_id, t.envelope).where(
        t.published_at.is_(None))
    if not first:
        query = query.where(t.seq > bindparam("after"))
    elif dialect == "postgresql":
        query = query.where(_LEAD.scalar_subquery())
    return query.order_by(t.seq).limit(bindparam("size", type_=Integer)).with_for_update(skip_locked=True)


@functools.cache
def _mark_published(dialect: str) -> Any:
    """UPDATE outbox SET published_at = :at WHERE seq in :seqs, built once per dialect.

    PostgreSQL gets the batch as one array parameter (``= ANY``): an ``IN`` list
    of 500 parameters cost more to compile, send and plan than the rest of the
    batch's database work together. SQLite has no arrays: an expanding ``IN``.
    """
    t = OutboxRecord.__table__.c
    if dialect == "postgresql":
        match = t.seq == any_(bindparam("seqs", type_=ARRAY(BigInteger)))
    else:
        match = t.seq.in_(bindparam("seqs", expanding=True))
    return update(OutboxRecord.__table__).where(match).values(published_at=bindparam("at"))
