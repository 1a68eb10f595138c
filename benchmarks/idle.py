"""Row 6: what an idle worker costs PostgreSQL (statements per second).

The worker connects through `CountingProxy`; after a warm-up (start-up queries excluded)
the statements it sends during `idle_seconds` are counted. `pg_stat_database`
transaction deltas on the system's own database are kept as a rough cross-check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import psycopg

from benchmarks.harness import AdapterFactory, BenchConfig, drop_database, recreate_database
from benchmarks.pgproxy import CountingProxy


@dataclasses.dataclass(frozen=True)
class IdleResult:
    statements_per_s: float
    round_trips_per_s: float
    new_connections: int
    seconds: float
    xacts_per_s: float  # pg_stat_database (commits + rollbacks), flushed lazily: approximate


async def _xacts(base_url: str, dbname: str) -> int:
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (dbname,),
        )
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def measure_idle(
    factory: AdapterFactory, base_url: str, dbname: str, cfg: BenchConfig, *, durable: bool
) -> IdleResult:
    url = await recreate_database(base_url, dbname, durable=durable)
    proxy = CountingProxy(url)
    await proxy.start()
    adapter = factory(proxy.url())
    try:
        await adapter.open()
        await adapter.start_worker(cfg.concurrency)
        await asyncio.sleep(cfg.idle_warmup)
        before, xacts_before = proxy.snapshot(), await _xacts(base_url, dbname)
        start = time.perf_counter()
        await asyncio.sleep(cfg.idle_seconds)
        elapsed = time.perf_counter() - start
        after, xacts_after = proxy.snapshot(), await _xacts(base_url, dbname)
    finally:
        try:
            await adapter.close()
        finally:
            await proxy.close()
            await drop_database(base_url, dbname)
    delta = after - before
    return IdleResult(
        statements_per_s=delta.statements / elapsed,
        round_trips_per_s=delta.round_trips / elapsed,
        new_connections=delta.connections,
        seconds=elapsed,
        xacts_per_s=(xacts_after - xacts_before) / elapsed,
    )
