"""Database engines and the unit of work.

SQLite (the embedded default) and PostgreSQL behind one async SQLAlchemy engine.
On SQLite every transaction that may write starts with ``BEGIN IMMEDIATE``:
writers queue on the file lock (``busy_timeout``) instead of failing when a read
transaction tries to upgrade, which is what the relay, the consumer and the API
do concurrently. A transaction that only reads (``read_session_factory``: a
GET's unit of work, an access check) takes no lock: a plain ``BEGIN`` on SQLite
(one snapshot, WAL readers never wait for the writer), no transaction at all on
PostgreSQL (READ COMMITTED gives each statement its own snapshot either way:
BEGIN and ROLLBACK would only add two round trips).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from sqlalchemy import (
    Integer, Select, and_, bindparam, event, func, literal_column, or_, select, text, true, tuple_,
)
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from jumelage import context, cursors, idempotency, sqlite_driver
from jumelage.audit import AUDIT_INSERT, AuditActor, record_for
from jumelage.columns import UtcDateTime  # noqa: F401  (services import it from here)
from jumelage.errors import Invalid
from jumelage.events import CloudEvent, EventData, new_envelope, serialized
from jumelage.tracing import current_traceparent
from jumelage.messaging.tables import OUTBOX_INSERT, inbox_insert, outbox_row
from jumelage.settings import async_driver_url


def is_sqlite(url_or_engine: str | AsyncEngine) -> bool:
    name = url_or_engine.dialect.name if isinstance(url_or_engine, AsyncEngine) else url_or_engine
    return str(name).startswith("sqlite")


def create_engine(url: str, *, schema: str | None = None, **kw: Any) -> AsyncEngine:
    """An async engine for ``url``; ``schema`` pins PostgreSQL's search_path (tests)."""
    url = async_driver_url(url)
    # Statement values (a patient's name, an email) never go into an error message or a log.
    kw.setdefault("hide_parameters", True)
    if is_sqlite(url):
        # One thread hop per statement, none for a COMMIT or ROLLBACK with nothing open (``jumelage.sqlite_driver``).
        kw.setdefault("module", sqlite_driver.dbapi())
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kw)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            begin = "BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE"
            driver = conn.connection.dbapi_connection
            if isinstance(driver, sqlite_driver.OneHopConnection):
                driver.begin(begin)  # sent with the transaction's first statement, in its hop
            else:
                conn.exec_driver_sql(begin)

        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    kw.setdefault("pool_use_lifo", True)  # the connection used last, so the others may idle out
    engine = create_async_engine(url, connect_args=connect_args, **kw)
    _ping_after_idle(engine)
    return engine


PING_AFTER_IDLE = 1.0
"""Seconds a pooled connection may sit idle and still be used without a ping first."""


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only if it sat idle over ``PING_AFTER_IDLE``.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip
    per transaction, about seven on the path from a command to its notification
    (``scripts/bench.py`` (e)). HikariCP skips its check the same way for a
    connection used in the last 500 ms. A connection lost since its last use
    (the database restarted within that second) fails its first statement:
    SQLAlchemy then resets the whole pool, and the consumer handles that event
    again without spending a retry (``EventConsumer._database_failed``).
    """
    pool = engine.sync_engine

    @event.listens_for(pool, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool discards this connection and checks out another (a new one if need be).
            raise DisconnectionError(f"connection idle {time.monotonic() - since:.1f}s failed its ping") from exc


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


READ_ONLY = "jumelage_read_only"
"""Execution option of the read engine: on SQLite its transactions begin DEFERRED."""


def read_engine(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` (same pool, same connections) for transactions that only read:
    no write lock on SQLite, no BEGIN/ROLLBACK round trips on PostgreSQL."""
    if is_sqlite(engine):
        return engine.execution_options(**{READ_ONLY: True})
    return engine.execution_options(isolation_level="AUTOCOMMIT", **{READ_ONLY: True})


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose transactions only read (see :func:`read_engine`). Nothing
    written through one is atomic on PostgreSQL: use :func:`session_factory` to write."""
    return async_sessionmaker(read_engine(engine), expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def paged(query: Select[Any], order_by: Sequence[str]) -> Select[Any]:
    """One page of ``query``'s rows, sorted by the columns named ``order_by``, and how many
    rows the query has in all, as one statement: one round trip, one snapshot (the total
    cannot disagree with the page). Its bound parameters ``limit`` and ``offset`` (and the
    query's own) are given at each run, :func:`fetch_page`: build it once and keep it, since
    building a statement and its cache key costs more than running this one on a small table.

    ``SELECT total.total, page.* FROM (SELECT count(*) ...) AS total LEFT OUTER JOIN
    (SELECT ..., 1 AS in_page ... LIMIT :limit OFFSET :offset) AS page ON true``: a page past
    the end still brings the total, on a row whose ``in_page`` is NULL."""
    total = select(func.count().label("total")).select_from(query.subquery()).subquery("total")
    columns = query.selected_columns
    rows = (query.add_columns(literal_column("1").label("in_page"))
            .order_by(*(columns[name] for name in order_by))
            .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))
            .subquery("page"))
    return (select(total.c.total, rows).select_from(total.outerjoin(rows, true()))
            .order_by(*(rows.c[name] for name in order_by)))


async def fetch_page(session: AsyncSession, statement: Select[Any], *, limit: int, offset: int,
                     **parameters: Any) -> tuple[list[Any], int]:
    """The rows of a :func:`paged` statement's page and the query's total."""
    rows = (await session.execute(statement, {"limit": limit, "offset": offset, **parameters})).all()
    return [row for row in rows if row.in_page is not None], int(rows[0].total) if rows else 0


KEYSET_FIELD = "query.cursor"
"""Where a refused cursor is named: the 422's ``loc`` is ``["query", "cursor"]``."""


class Keyset:
    """Keyset pages of ``query``'s rows, sorted by the columns named ``order_by`` (the last of
    them unique, ``id``, so the order is total): each page is the ``limit`` rows after the
    sort key of the previous page's last row, which the page hands out as an opaque cursor
    (``jumelage.cursors``). Unlike an offset, a page costs the same deep in the list (the
    database seeks in the index of the sort columns, never counts the rows before), and
    rows inserted or removed before the cursor neither repeat nor skip a row after it.

    ``descending`` names the columns sorted newest (largest) first. Two statements are built
    once (keep the ``Keyset``): the first page, and the page after a cursor, whose
    condition is a row-value comparison ``(a, b, id) > (:a, :b, :id)`` when every column
    goes one way, else its expanded form ``a < :a OR (a = :a AND (b > :b OR ...))``.

    The rows may be ORM entities (``scalars=True``) or Core rows; the key of a row is
    read by the columns' names."""

    def __init__(self, query: Select[Any], order_by: Sequence[str], *, descending: Sequence[str] = (),
                 scalars: bool = False) -> None:
        columns = query.selected_columns
        unknown = set(descending) - set(order_by)
        if unknown:
            raise ValueError(f"descending names columns the order does not: {sorted(unknown)}")
        self.names = tuple(order_by)
        self.scalars = scalars
        sorted_by = [columns[name] for name in order_by]
        down = [name in descending for name in order_by]
        self.shape = "".join(cursors.kind_of(_sample(_python_type(c.type))) for c in sorted_by)
        after = [bindparam(f"after_{i}", type_=c.type) for i, c in enumerate(sorted_by)]
        ordering = [c.desc() if d else c.asc() for c, d in zip(sorted_by, down, strict=True)]
        limit = bindparam("limit", type_=Integer)
        self.first = query.order_by(*ordering).limit(limit)
        if not any(down) or all(down):
            beyond = tuple_(*sorted_by) < tuple_(*after) if all(down) else tuple_(*sorted_by) > tuple_(*after)
        else:
            beyond = _expanded_after(sorted_by, after, down)
        self.after = query.where(beyond).order_by(*ordering).limit(limit)

    def key(self, row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, name) for name in self.names)

    def cursor_after(self, row: Any) -> str:
        """The cursor of the page that follows ``row`` (an offset page hands it out too)."""
        return cursors.encode(self.key(row))

    async def fetch(self, session: AsyncSession, *, limit: int, cursor: str | None,
                    **parameters: Any) -> tuple[list[Any], str | None]:
        """The page of ``limit`` rows after ``cursor`` (None: the first page), and the cursor
        of the page after it (None: this is the last). A cursor of another shape (another
        list's, or altered) is :class:`Invalid` naming ``cursor`` (a 422)."""
        values = {"limit": limit + 1, **parameters}  # one more: is there a page after this one?
        statement = self.first
        if cursor is not None:
            try:
                key = cursors.decode(cursor, self.shape)
            except ValueError as e:
                raise Invalid(str(e), field=KEYSET_FIELD) from None
            values.update({f"after_{i}": v for i, v in enumerate(key)})
            statement = self.after
        result = await (session.scalars(statement, values) if self.scalars else session.execute(statement, values))
        rows = list(result.all())
        if len(rows) <= limit:
            return rows, None
        rows = rows[:limit]
        return rows, cursors.encode(self.key(rows[-1]))


def offset_or_cursor(offset: int, cursor: str | None) -> None:
    """A list paged both ways takes one of the two: a cursor with an offset is a 422."""
    if cursor is not None and offset:
        raise Invalid("give either an offset or a cursor, not both: the cursor already says where the page "
                      "begins", field=KEYSET_FIELD)


def keyset(query: Select[Any], order_by: Sequence[str], *, descending: Sequence[str] = (),
           scalars: bool = False) -> Keyset:
    """Keyset pages of ``query`` (:class:`Keyset`), the variant of :func:`paged` for the
    lists that grow without end: no total, no offset, the same cost on every page."""
    return Keyset(query, order_by, descending=descending, scalars=scalars)


def _expanded_after(columns: Sequence[Any], after: Sequence[Any], down: Sequence[bool]) -> Any:
    """Rows after the key ``after`` in an order of mixed directions (one per column)."""
    condition = None
    for column, value, descending in reversed(list(zip(columns, after, down, strict=True))):
        beyond = column < value if descending else column > value
        condition = beyond if condition is None else or_(beyond, and_(column == value, condition))
    return condition


def _python_type(column_type: Any) -> type:
    """The Python type of a column's values (a TypeDecorator's, ``UtcDateTime``, is its impl's)."""
    impl = getattr(column_type, "impl_instance", None) or getattr(column_type, "impl", None)
    python_type = column_type.python_type
    if python_type is object and impl is not None and not isinstance(impl, type):
        return _python_type(impl)
    return python_type


def _sample(python_type: type) -> Any:
    """A value of ``python_type``, for its cursor kind."""
    samples: dict[type, Any] = {bool: True, int: 0, str: "", uuid.UUID: uuid.UUID(int=0),
                                datetime: datetime(2000, 1, 1, tzinfo=UTC), date: date(2000, 1, 1)}
    if python_type not in samples:
        raise TypeError(f"a keyset cannot sort by a column of {python_type.__name__}")
    return samples[python_type]


class Transaction(Protocol):
    """What a unit of work runs in: a transaction of its own (:class:`OwnTransaction`,
    the default), or its part of one that several units share one after the other
    (the consumer's group commit, ``jumelage.messaging.batch``)."""

    async def begin(self) -> AsyncSession:
        """The session the unit's statements go through, in an open transaction."""

    async def commit(self, outbox: list[dict[str, Any]]) -> None:
        """Write ``outbox`` (the rows of the events the unit recorded) and commit; return
        once the unit's changes are committed, raise if they are not."""

    async def rollback(self) -> None:
        """Undo the unit's changes (or raise if they cannot be undone alone)."""

    async def end(self, committed: bool) -> None:
        """The unit is done; what it did not commit must not commit."""


class OwnTransaction:
    """A database transaction of the unit's own, on a session from ``sessions``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.session: AsyncSession

    async def begin(self) -> AsyncSession:
        self.session = self.sessions()
        await self.session.begin()
        return self.session

    async def commit(self, outbox: list[dict[str, Any]]) -> None:
        if outbox:
            await self.session.execute(OUTBOX_INSERT, outbox)  # one statement, in recording order (``seq``)
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()

    async def end(self, committed: bool) -> None:
        # Closing rolls back what is not committed: one call (and, on SQLite, one ROLLBACK), not two.
        await self.session.close()


class UnitOfWork:
    """One database transaction: state changes, outgoing events (outbox) and the
    inbox mark of the event being handled commit together or not at all.

    Services subclass it to hang their repositories on ``__aenter__``.

    It runs in ``transaction``: one of its own, unless the consumer gives it its
    part of a batch's (``jumelage.messaging.batch``) before entering it. For the
    code using it nothing changes: ``commit`` returns once the changes are
    committed, and raises if they are not.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.sessions = sessions
        # Public: the consumer puts its batch's here (``SharedTransaction``), before ``async with``.
        self.transaction: Transaction = OwnTransaction(sessions)
        self._on_commit = on_commit
        self.session: AsyncSession
        self.recorded: list[CloudEvent[Any]] = []
        self._outbox: list[dict[str, Any]] = []  # the outbox rows of what was recorded, written at commit
        self._committed = False
        # Set for a change made through the API: commit() writes its audit row.
        self.actor: AuditActor | None = None
        # Set for a read made through the API: who reads, for the access history of patients'
        # identities (jumelage.identity_access), written through ``write_sessions``.
        self.reader: AuditActor | None = None
        self.write_sessions: Callable[[], AsyncSession] = sessions

    async def __aenter__(self) -> Self:
        self.recorded = []
        self._outbox = []
        self._committed = False
        self.session = await self.transaction.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.transaction.end(self._committed)

    max_event_bytes: int | None = None
    """Largest event data this unit may record (``MAX_EVENT_BYTES``, set by the runtime)."""
    schemas_url: str | None = None
    """Where the service serves its events' JSON schemas (``<PUBLIC_URL>/schemas``, set by the
    runtime): each event's ``dataschema`` is ``<schemas_url>/<type>.json``; None: no dataschema."""

    def record(self, data: EventData) -> CloudEvent[Any]:
        """Queue an outgoing event in this transaction (the outbox row, written at commit).

        Data over ``max_event_bytes`` is refused here, before anything is written:
        every subscriber would receive it, and a broker or a consumer may not take it."""
        envelope = new_envelope(
            data,
            correlation_id=context.correlation_id.get(),
            causation_id=context.causation_id.get(),
            traceparent=current_traceparent(),  # the span it is recorded under: the trace goes on
            dataschema=f"{self.schemas_url}/{data.event_type}.json" if self.schemas_url else None,
        )
        envelope_json, size = serialized(envelope)  # once: the outbox row keeps this JSON
        if self.max_event_bytes is not None and size > self.max_event_bytes:
            raise Invalid(f"the {type(data).__name__} event this change records would be {size} bytes, over "
                          f"the {self.max_event_bytes}-byte limit (MAX_EVENT_BYTES): shorten its text fields")
        self.recorded.append(envelope)
        self._outbox.append(outbox_row(envelope, envelope_json))
        return envelope

    def record_from(self, *aggregates: Any) -> list[CloudEvent[Any]]:
        """Queue what each aggregate recorded (``jumelage.domain.Aggregate``), in order."""
        return [self.record(event) for aggregate in aggregates for event in aggregate.pull_events()]

    async def mark_handled(self, consumer: str, event_id: uuid.UUID) -> bool:
        """Record that ``consumer`` handled ``event_id``; False if it already had.

        The unique key (consumer, event_id) is what makes two concurrent
        deliveries safe: the second insert waits for the first to commit and
        then inserts nothing.
        """
        stmt = inbox_insert(self.session.bind.dialect.name)
        row = (await self.session.execute(
            stmt, {"consumer": consumer, "event_id": event_id, "handled_at": datetime.now(UTC)}
        )).first()
        return row is not None

    async def commit(self) -> None:
        if self.actor is not None:
            # In the same transaction: no change without its audit row, and no row without the change.
            await self.session.execute(AUDIT_INSERT, record_for(self.actor, datetime.now(UTC), self.recorded,
                                                                context.correlation_id.get()))
        keyed = idempotency.pending()  # an Idempotency-Key claimed by this request: it commits with the change
        if keyed is not None:
            await keyed.mark(self.session)
        outbox, self._outbox = self._outbox, []
        await self.transaction.commit(outbox)
        if keyed is not None:
            keyed.committed = True
        self._committed = True
        if self.recorded and self._on_commit is not None:
            self._on_commit()  # wake the relay: latency is not a poll interval

    async def rollback(self) -> None:
        await self.transaction.rollback()
        self.recorded = []
        self._outbox = []
