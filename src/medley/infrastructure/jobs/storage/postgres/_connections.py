"""The store's connections: psycopg_pool's pool with a short stack of idle connections
in front of it.

Why: `pool.connection()` costs ~45 us per use on this hardware (two locks, a commit
check, logging and usage statistics), and a single enqueue is one statement whose whole
Python cost is ~300 us. A connection the store hands back in a clean state (idle, outside
a transaction) goes on the stack and the next statement takes it with a `list.pop()`.
Anything else (an error that broke the connection, a cancelled query still in flight, an
open transaction) goes back through `putconn`, so the pool checks, resets or replaces it
as before. Every statement of the store goes through here, so a connection resting on the
stack is never hidden from a caller waiting for one.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

Conn = psycopg.AsyncConnection[dict[str, Any]]
Cursor = psycopg.AsyncCursor[dict[str, Any]]

IDLE_KEPT = 4
"""Idle connections held on the stack; the rest rest in the pool (which closes surplus
ones after its idle timeout)."""


class Connections:
    def __init__(self, pool: AsyncConnectionPool[Conn], *, keep: int = IDLE_KEPT) -> None:
        self.pool = pool
        self._idle: list[Conn] = []
        self._keep = keep
        self._closing = False
        self._waiting = 0
        self._cursors: dict[Conn, Cursor | None] = {}
        """An entry for every connection taken and not handed back to the pool (leased
        or resting on the stack): its cursor, once one was made. A cursor refers to its
        connection, so the entry goes when the connection goes back to the pool."""

    def lease(self) -> _Lease:
        """`async with connections.lease() as conn:` — one connection, returned on exit."""
        return _Lease(self)

    def cursor(self, conn: psycopg.AsyncConnection[Any]) -> Cursor:
        """A cursor for a statement on `conn`, kept with the connection while it is this
        object's: making one (what `conn.execute` does each time) cost ~15 us, a sixth
        of a single enqueue's client time. It holds its last result until its next
        statement. Any other connection (a caller's own, to enqueue in its transaction)
        gets a fresh cursor. Rows are dicts either way."""
        if conn not in self._cursors:
            return conn.cursor(row_factory=dict_row)
        cur = self._cursors[conn]
        if cur is None or cur.closed:
            cur = self._cursors[conn] = conn.cursor(row_factory=dict_row)
        return cur

    async def _take(self) -> Conn:
        idle = self._idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
            await self._to_pool(conn)  # the pool replaces it
        self._waiting += 1
        try:
            conn = await self.pool.getconn()
        finally:
            self._waiting -= 1
        self._cursors[conn] = None
        return conn

    async def _give_back(self, conn: Conn) -> None:
        if (
            not self._closing
            and not self._waiting  # a caller queued in the pool is served first
            and len(self._idle) < self._keep
            and not conn.closed
            and conn.pgconn.transaction_status == TransactionStatus.IDLE
        ):
            self._idle.append(conn)
            return
        await self._to_pool(conn)

    async def _to_pool(self, conn: Conn) -> None:
        self._cursors.pop(conn, None)
        await self.pool.putconn(conn)

    async def close(self) -> None:
        """Hand every resting connection back, then close the pool."""
        self._closing = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await self._to_pool(conn)
        await self.pool.close()


class _Lease:
    """A class rather than `asynccontextmanager`: the generator machinery alone cost
    ~8 us per statement."""

    __slots__ = ("_conn", "_owner")

    def __init__(self, owner: Connections) -> None:
        self._owner = owner
        self._conn: Conn | None = None

    async def __aenter__(self) -> Conn:
        self._conn = await self._owner._take()
        return self._conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._owner._give_back(conn)
