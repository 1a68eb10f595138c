"""The cost of a global concurrency limit on drain throughput, on PostgreSQL.

    .venv/bin/python -m benchmarks.limits_bench [--jobs 20000] [--repeat 3]

One fresh database, one worker (`medley worker`'s settings: own store, concurrency 20),
and three kinds of no-op job drained in turn, in the same run, rotated on each repeat:

* `free`: no limit (the plain fetch path);
* `limited`: every job under one global limit that never binds (max_running 10,000), so
  the figure is what the limit bookkeeping itself costs (the limited claim statement with
  medley_limit_grant, the slot given back with the outcome);
* `binding`: one global limit equal to the worker's concurrency, where a slot comes back
  only when the batched completer has written the outcome;
* `rated`: a limit with a start rate and a token budget that never bind (10M starts and
  10G tokens a minute, each job reserving 100 tokens), so the figure is what the bucket
  bookkeeping costs on top of the limited path (medley_limit_grant's bucket arithmetic).

Each drain starts on a freshly vacuumed `medley_job` (see `drain`). Results and what
changed: `benchmarks/README.md`, "Cost of a global limit".

Prints jobs/s (median of the repeats) and the ratio limited/free and binding/free. The
issue's target: a global limit loses less than 25% (ratio above 0.75); River users report
a 2x drop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import psycopg

import medley
from benchmarks.harness import drop_database, recreate_database
from medley.infrastructure.jobs.runtime.server import WorkerConfig, WorkerServer
from medley.infrastructure.jobs.storage.port import LimitParams
from medley.infrastructure.services.connect import open_store

REGISTRY = medley.JobRegistry()
CONCURRENCY = 20
DBNAME = "bench_limits"
finished = 0


@medley.job(name="bench.free", registry=REGISTRY)
async def free(i: int) -> None:
    global finished
    finished += 1


@medley.job(name="bench.limited", registry=REGISTRY, limit="bench-wide")
async def limited(i: int) -> None:
    global finished
    finished += 1


@medley.job(name="bench.binding", registry=REGISTRY, limit="bench-tight")
async def binding(i: int) -> None:
    global finished
    finished += 1


@medley.job(name="bench.rated", registry=REGISTRY, limit="bench-rated", tokens=100)
async def rated(i: int) -> None:
    global finished
    finished += 1


KINDS = {
    "free": "bench.free",
    "limited": "bench.limited",
    "binding": "bench.binding",
    "rated": "bench.rated",
}


async def drain(service: medley.JobService, url: str, job: str, n: int) -> float:
    """Enqueue `n` jobs, then time one worker draining them until the database shows
    none left; jobs/s."""
    global finished
    for first in range(0, n, 1000):
        batch = range(first, min(first + 1000, n))
        await service.submit_many([medley.EnqueueRequest(job=job, args=(i,)) for i in batch])
    finished = 0
    # Every drain starts from a vacuumed table: the index entries of the jobs the previous
    # drain claimed would otherwise be walked by whichever statement follows (the order of
    # the kinds, not their cost, would decide), until autovacuum comes by.
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("VACUUM (ANALYZE) medley_job")
    store = await open_store(url, auto_migrate=False, pool_max=CONCURRENCY + 4)
    server = WorkerServer(store, REGISTRY, WorkerConfig(concurrency=CONCURRENCY, poll_seconds=5.0))
    start = time.perf_counter()
    await server.start()
    try:
        while True:
            if finished >= n:
                counts = await service.store.stat_count_by_state()
                live = sum(c.count for c in counts if c.state.value in ("enqueued", "processing"))
                if live == 0:
                    break
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - start
    finally:
        await server.stop()
        await store.close()
    return n / elapsed


async def main(args: argparse.Namespace) -> None:
    url = await recreate_database(args.database_url, DBNAME, durable=False)
    service = await medley.connect_async(url, registry=REGISTRY, auto_migrate=True)
    try:
        store = service.store
        await store.limit_upsert(LimitParams(name="bench-wide", max_running=10_000))
        await store.limit_upsert(LimitParams(name="bench-tight", max_running=CONCURRENCY))
        await store.limit_upsert(
            LimitParams(name="bench-rated", rate=10_000_000, tokens=10_000_000_000)
        )
        results: dict[str, list[float]] = {k: [] for k in args.kinds}
        order = list(args.kinds)
        for r in range(args.repeat):
            for kind in order[r % len(order) :] + order[: r % len(order)]:
                rate = await drain(service, url, KINDS[kind], args.jobs)
                results[kind].append(rate)
                print(f"run {r + 1}/{args.repeat} {kind:8s} {rate:8.0f} jobs/s", flush=True)
    finally:
        await service.close()
        await drop_database(args.database_url, DBNAME)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\ndrain of {args.jobs} no-op jobs, concurrency {CONCURRENCY}, median of {args.repeat}")
    for kind, rate in med.items():
        to_free = f"   ratio to free {rate / med['free']:.2f}" if "free" in med else ""
        print(f"  {kind:8s} {rate:8.0f} jobs/s{to_free}")
    if "free" in med and "limited" in med:
        ratio = med["limited"] / med["free"]
        verdict = "met" if ratio >= 0.75 else "MISSED"
        print(f"global limit cost: ratio {ratio:.2f} (target >= 0.75: {verdict})")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--kinds",
        type=lambda v: [k for k in v.split(",") if k],
        default=list(KINDS),
        help=f"comma-separated subset of {','.join(KINDS)} (default: all)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "MEDLEY_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
