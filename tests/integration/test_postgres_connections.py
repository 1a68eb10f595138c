"""The PostgreSQL store's connection stack keeps a cursor with each connection it holds
(making one per statement cost a sixth of a single enqueue), and lets go of it with the
connection: a cursor refers to its connection, so a cursor kept for a connection handed
back to the pool, or for a caller's own, would keep that connection alive for good."""

from __future__ import annotations

import gc
import weakref

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from medley.infrastructure.jobs.storage.postgres._connections import Connections

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


async def test_a_cursor_stays_with_a_resting_connection_and_goes_with_one_handed_back(
    pg_url: str,
) -> None:
    pool: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, object]]] = AsyncConnectionPool(
        pg_url, min_size=0, max_size=2, open=False, kwargs={"autocommit": True}
    )
    await pool.open()
    conns = Connections(pool, keep=1)
    try:
        async with conns.lease() as first, conns.lease() as second:
            handed_back = weakref.ref(conns.cursor(first))
            kept = conns.cursor(second)
            assert conns.cursor(second) is kept
        # `second` was returned first and rests on the stack (room for one); `first` went
        # back to the pool, and its cursor with it.
        gc.collect()
        assert handed_back() is None
        async with conns.lease() as again:
            assert again is second
            cur = conns.cursor(again)
            assert cur is kept
            await cur.execute("SELECT 1 AS one")
            assert await cur.fetchall() == [{"one": 1}]
    finally:
        await conns.close()


async def test_a_callers_own_connection_gets_a_fresh_cursor_each_time(pg_url: str) -> None:
    pool: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, object]]] = AsyncConnectionPool(
        pg_url, min_size=0, max_size=1, open=False
    )
    await pool.open()
    conns = Connections(pool)
    try:
        async with await psycopg.AsyncConnection.connect(pg_url) as own:
            first = conns.cursor(own)
            assert conns.cursor(own) is not first
            await first.execute("SELECT 1 AS one")
            assert await first.fetchall() == [{"one": 1}]  # dict rows on any connection
    finally:
        await conns.close()
