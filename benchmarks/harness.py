"""The shared harness: settings, the job recorder, the adapter protocol every system
implements, database helpers, and the five timed scenarios (rows 1-5).

Every system runs its worker in this process on the same asyncio loop as the producer, so
the job functions record into one `Recorder` and exactly-once delivery can be checked from
memory as well as from the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from benchmarks.stats import percentile

JobKind = Literal["noop", "sleep"]

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
SLEEP_SECONDS = 0.05


class BenchError(RuntimeError):
    """A scenario could not finish or failed its correctness check."""


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """Sizes and settings shared by every system (the same for all of them)."""

    database_url: str = DEFAULT_DATABASE_URL
    concurrency: int = 20
    single_jobs: int = 2_000
    bulk_jobs: int = 20_000
    bulk_batch: int = 1_000
    latency_jobs: int = 500
    latency_interval: float = 0.010
    sleep_jobs: int = 200
    idle_seconds: float = 20.0
    idle_warmup: float = 3.0
    worker_settle: float = 1.0
    timeout: float = 180.0

    @property
    def drain_jobs(self) -> int:
        # Row 3 drains exactly the jobs that row 2 bulk-enqueued.
        return self.bulk_jobs


# --- the recorder the job functions write into ---------------------------------------


class Recorder:
    """What the benchmark job functions report: start and finish times per job id."""

    def __init__(self) -> None:
        self.starts: dict[int, float] = {}
        self.finishes: Counter[int] = Counter()
        self.last_finish = math.nan
        self.expected = 0
        self.all_finished = asyncio.Event()

    def reset(self, expected: int) -> None:
        self.starts = {}
        self.finishes = Counter()
        self.last_finish = math.nan
        self.expected = expected
        self.all_finished = asyncio.Event()

    def started(self, job_id: int) -> None:
        self.starts.setdefault(job_id, time.perf_counter())

    def finished(self, job_id: int) -> None:
        self.finishes[job_id] += 1
        self.last_finish = time.perf_counter()
        if len(self.finishes) >= self.expected > 0:
            self.all_finished.set()

    @property
    def first_start(self) -> float:
        return min(self.starts.values()) if self.starts else math.nan

    def check_exactly_once(self, ids: range) -> None:
        """Raise unless every id in `ids` ran exactly once and no other id ran."""
        missing = [i for i in ids if i not in self.finishes]
        duplicated = [i for i, n in self.finishes.items() if n > 1]
        unexpected = [i for i in self.finishes if i not in ids]
        if missing or duplicated or unexpected:
            raise BenchError(
                f"exactly-once check failed: {len(missing)} missing, "
                f"{len(duplicated)} ran more than once, {len(unexpected)} unexpected"
            )


RECORDER = Recorder()


async def run_job(kind: JobKind, job_id: int) -> None:
    """The body every system's benchmark job calls: record, (sleep), record."""
    RECORDER.started(job_id)
    if kind == "sleep":
        await asyncio.sleep(SLEEP_SECONDS)
    RECORDER.finished(job_id)


# --- what each system implements -----------------------------------------------------


class Adapter(Protocol):
    """One job system under test, bound to one database."""

    name: str

    async def open(self) -> None:
        """Install the schema and open the producer's connections."""
        ...

    async def close(self) -> None: ...

    async def reset(self) -> None:
        """Remove every job (between rows)."""
        ...

    async def enqueue_one(self, kind: JobKind, job_id: int) -> None: ...

    async def enqueue_many(self, kind: JobKind, job_ids: Sequence[int]) -> None:
        """Enqueue these jobs in one call (one transaction where the system allows)."""
        ...

    async def start_worker(self, concurrency: int) -> None: ...

    async def stop_worker(self) -> None: ...

    async def unfinished(self) -> int:
        """How many jobs the database does not yet show as finished."""
        ...

    async def succeeded(self) -> int:
        """How many distinct jobs the database shows as succeeded."""
        ...


AdapterFactory = Callable[[str], Adapter]


# --- PostgreSQL helpers --------------------------------------------------------------


def database_url(base_url: str, dbname: str) -> str:
    """`base_url` with its database name replaced."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


async def recreate_database(base_url: str, dbname: str, *, durable: bool) -> str:
    """Drop and create `dbname` with synchronous_commit set; return its URL."""
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        ident = sql.Identifier(dbname)
        await conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
        setting = sql.SQL("on" if durable else "off")
        await conn.execute(
            sql.SQL("ALTER DATABASE {} SET synchronous_commit = {}").format(ident, setting)
        )
    return database_url(base_url, dbname)


async def drop_database(base_url: str, dbname: str) -> None:
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        await conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


async def server_version(base_url: str) -> str:
    async with await psycopg.AsyncConnection.connect(base_url, autocommit=True) as conn:
        row = await (await conn.execute("SHOW server_version")).fetchone()
    return str(row[0]) if row else "?"


async def scalar_int(conn: psycopg.AsyncConnection[tuple[object, ...]], query: str) -> int:
    row = await (await conn.execute(query.encode())).fetchone()
    value = row[0] if row else 0
    return int(value) if isinstance(value, int) else 0


# --- scenarios (rows 1-5) ------------------------------------------------------------


@dataclasses.dataclass
class RunResult:
    """One repeat of rows 1-5 for one system; NaN where a row failed."""

    single_jobs_per_s: float = math.nan
    bulk_jobs_per_s: float = math.nan
    drain_jobs_per_s: float = math.nan
    latency_p50_ms: float = math.nan
    latency_p95_ms: float = math.nan
    latency_p99_ms: float = math.nan
    sleep_wall_s: float = math.nan
    errors: list[str] = dataclasses.field(default_factory=list)


async def _wait_finished(adapter: Adapter, timeout: float) -> float:
    """Wait until every expected job returned, then until the database shows every job
    finished; return the time (perf_counter) the database first showed it."""
    try:
        await asyncio.wait_for(RECORDER.all_finished.wait(), timeout)
    except TimeoutError as exc:
        raise BenchError(
            f"timed out: {len(RECORDER.finishes)}/{RECORDER.expected} jobs finished"
        ) from exc
    deadline = time.perf_counter() + timeout
    while True:
        if await adapter.unfinished() == 0:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise BenchError("timed out waiting for the database to show every job finished")
        await asyncio.sleep(0.005)


async def single_enqueue(adapter: Adapter, cfg: BenchConfig) -> float:
    """Row 1: `single_jobs` enqueue calls one after another, no worker; jobs/s."""
    await adapter.reset()
    start = time.perf_counter()
    for i in range(cfg.single_jobs):
        await adapter.enqueue_one("noop", i)
    return cfg.single_jobs / (time.perf_counter() - start)


async def bulk_enqueue(adapter: Adapter, cfg: BenchConfig) -> float:
    """Row 2: `bulk_jobs` in batches of `bulk_batch`, no worker; jobs/s. Leaves the jobs
    in place for row 3."""
    await adapter.reset()
    start = time.perf_counter()
    for first in range(0, cfg.bulk_jobs, cfg.bulk_batch):
        await adapter.enqueue_many("noop", range(first, min(first + cfg.bulk_batch, cfg.bulk_jobs)))
    return cfg.bulk_jobs / (time.perf_counter() - start)


async def drain(adapter: Adapter, cfg: BenchConfig) -> float:
    """Row 3: start a worker on the `drain_jobs` jobs row 2 left; jobs/s from the first job
    start to the moment the database shows every job finished. Checks exactly-once."""
    n = cfg.drain_jobs
    RECORDER.reset(n)
    await adapter.start_worker(cfg.concurrency)
    try:
        done = await _wait_finished(adapter, cfg.timeout)
    finally:
        await adapter.stop_worker()
    RECORDER.check_exactly_once(range(n))
    stored = await adapter.succeeded()
    if stored != n:
        raise BenchError(f"database shows {stored} succeeded jobs, expected {n}")
    return n / (done - RECORDER.first_start)


async def latency(adapter: Adapter, cfg: BenchConfig) -> tuple[float, float, float]:
    """Row 4 (worker already idle): `latency_jobs` jobs, one enqueue every
    `latency_interval` s on a fixed schedule; latency = job start - enqueue call start.
    Returns p50, p95, p99 in milliseconds."""
    n = cfg.latency_jobs
    RECORDER.reset(n)
    enqueued: dict[int, float] = {}
    origin = time.perf_counter()
    for i in range(n):
        delay = origin + i * cfg.latency_interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        enqueued[i] = time.perf_counter()
        await adapter.enqueue_one("noop", i)
    await _wait_finished(adapter, cfg.timeout)
    RECORDER.check_exactly_once(range(n))
    samples = [(RECORDER.starts[i] - enqueued[i]) * 1000.0 for i in range(n)]
    return percentile(samples, 0.50), percentile(samples, 0.95), percentile(samples, 0.99)


async def sleepers(adapter: Adapter, cfg: BenchConfig) -> float:
    """Row 5 (worker already idle): `sleep_jobs` jobs of `asyncio.sleep(0.05)` enqueued in
    one call; wall seconds from that call's return to the database showing all finished."""
    n = cfg.sleep_jobs
    RECORDER.reset(n)
    await adapter.enqueue_many("sleep", range(n))
    start = time.perf_counter()
    done = await _wait_finished(adapter, cfg.timeout)
    RECORDER.check_exactly_once(range(n))
    return done - start


async def _row(result: RunResult, label: str, step: Awaitable[None]) -> bool:
    try:
        await step
    except Exception as exc:
        result.errors.append(f"{label}: {type(exc).__name__}: {exc}")
        return False
    return True


async def run_rows(adapter: Adapter, cfg: BenchConfig) -> RunResult:
    """Rows 1-5 on an opened adapter; a failing row is recorded and the rest go on."""
    result = RunResult()

    async def row1() -> None:
        result.single_jobs_per_s = await single_enqueue(adapter, cfg)

    async def row2() -> None:
        result.bulk_jobs_per_s = await bulk_enqueue(adapter, cfg)

    async def row3() -> None:
        result.drain_jobs_per_s = await drain(adapter, cfg)

    async def rows45() -> None:
        await adapter.reset()
        await adapter.start_worker(cfg.concurrency)
        try:
            await asyncio.sleep(cfg.worker_settle)

            async def row4() -> None:
                p50, p95, p99 = await latency(adapter, cfg)
                result.latency_p50_ms, result.latency_p95_ms, result.latency_p99_ms = (
                    p50,
                    p95,
                    p99,
                )

            async def row5() -> None:
                await asyncio.sleep(cfg.worker_settle)
                result.sleep_wall_s = await sleepers(adapter, cfg)

            await _row(result, "latency", row4())
            await _row(result, "sleep", row5())
        finally:
            await adapter.stop_worker()

    await _row(result, "single", row1())
    if await _row(result, "bulk", row2()):
        await _row(result, "drain", row3())
    await _row(result, "worker", rows45())
    return result
