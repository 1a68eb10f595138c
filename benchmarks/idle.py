"""Row 6: what an idle worker costs PostgreSQL (statements per second).

The worker connects through `CountingProxy`; after a warm-up (start-up queries excluded)
the statements it sends during `idle_seconds` are counted, and listed by SQL text.
(`pg_stat_database.xact_commit` deltas were tried and rejected: backends flush them
lazily, and every bench database showed ~1 transaction/s whatever its worker sent.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from benchmarks.harness import AdapterFactory, BenchConfig, drop_database, recreate_database
from benchmarks.pgproxy import CountingProxy


@dataclasses.dataclass(frozen=True)
class IdleResult:
    statements_per_s: float
    round_trips_per_s: float
    new_connections: int
    seconds: float
    by_statement: dict[str, int]  # statements sent during the window, by SQL text


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
        before = proxy.snapshot()
        statements_before = proxy.statements.copy()
        start = time.perf_counter()
        await asyncio.sleep(cfg.idle_seconds)
        elapsed = time.perf_counter() - start
        after = proxy.snapshot()
        by_statement = proxy.statements - statements_before
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
        by_statement=dict(by_statement.most_common()),
    )
