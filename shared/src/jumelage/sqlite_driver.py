"""SQLAlchemy's aiosqlite adapter, one thread hop per statement.

aiosqlite runs each call on the connection's own thread and hands the result back
to the event loop (``call_soon_threadsafe``): a hop that costs more than a small
statement itself. SQLAlchemy's adapter makes four per statement (open a cursor,
execute, fetch the rows, close the cursor) and one per ``rollback`` even when there
is no transaction to end (the pool's reset after the session's own rollback): an
empty ``GET /institutions`` made 13, about 2 ms of the request (``scripts/bench.py``
(h)). Here a statement runs whole in one hop (cursor, execute, rows, close), a
transaction's ``BEGIN`` goes in the hop of its first statement, and a commit or
rollback with no transaction open makes none, which is what ``sqlite3`` itself does
then (it only sends ``COMMIT``/``ROLLBACK`` inside a transaction): an empty
``GET /institutions`` now makes 2 (its one statement, its ``ROLLBACK``).
Statements, transactions and errors are otherwise SQLAlchemy's and aiosqlite's own:
the same connection, thread and exception translation.

Used by :func:`jumelage.db.create_engine` for every SQLite engine (``module=``).
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor, AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool,
         begin: str | None) -> tuple[Any, ...]:
    """On the driver's thread: the transaction's BEGIN if still to send, the statement, its rows
    and counts, its cursor closed."""
    cursor = connection.cursor()
    try:
        if begin is not None:
            cursor.execute(begin)
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor with no driver cursor behind it: each execute is one call on the driver's thread."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "_arraysize")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # Not the base __init__: it opens a driver cursor (a hop) that would sit unused.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return  # nothing held open: the rows are already here

    def close(self) -> None:
        self._rows.clear()

    async def _call(self, operation: Any, parameters: Any, many: bool) -> None:
        adapter = self._adapt_connection
        async with adapter._execute_mutex:
            connection = self._connection
            begin, adapter._begin = adapter._begin, None  # sent now, or failed with this statement
            self._description, rows, self._rowcount, self._lastrowid = await connection._execute(
                _run, connection._conn, operation, parameters, many, begin)
            self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._call(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._call(operation, seq_of_parameters, True)

    def nextset(self) -> None:
        self._rows.clear()  # sqlite3 has one result set per statement

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None  # sqlite3's own does nothing


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """Also sends a transaction's ``BEGIN`` in the hop of its first statement (:meth:`begin`)."""

    __slots__ = ("_begin",)
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None

    def begin(self, statement: str) -> None:
        """Open a transaction with ``statement`` (``BEGIN``, ``BEGIN IMMEDIATE``) right before the
        next statement, in the same hop. SQLAlchemy runs it at the first statement anyway (its
        ``begin`` event fires when a session first needs the connection); the write lock of
        ``BEGIN IMMEDIATE`` is still taken before any statement of the transaction runs, and a
        deferred ``BEGIN`` takes its snapshot at the first read either way. A transaction that
        ends before any statement never reaches SQLite, as if begun and rolled back."""
        self._begin = statement

    def cursor(self, server_side: bool = False) -> Any:
        if server_side and self._begin is not None:  # aiosqlite's own cursor: send BEGIN before it
            begin, self._begin = self._begin, None
            await_(self._connection._execute(self._connection._conn.execute, begin))
        return super().cursor(server_side)

    def _idle(self) -> bool:
        """No transaction open: COMMIT or ROLLBACK would do nothing (sqlite3 sends neither then).
        ``in_transaction`` reads SQLite's autocommit flag, no statement: safe from this thread."""
        self._begin = None  # never sent: nothing to end
        driver = self._connection._connection
        try:
            return driver is not None and not driver.in_transaction
        except sqlite3.Error:
            return False  # closed: let the adapter raise as it does

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()

    def commit(self) -> None:
        if not self._idle():
            super().commit()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's adapter: a leaked connection never holds the exit
        return OneHopConnection(self, await_(connection))


def dbapi() -> OneHopDBAPI:
    """The ``module=`` of :func:`sqlalchemy.ext.asyncio.create_async_engine` for ``sqlite+aiosqlite``."""
    return OneHopDBAPI(aiosqlite, sqlite3)
