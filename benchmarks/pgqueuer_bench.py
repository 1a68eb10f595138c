"""PgQueuer under the benchmark: its `QueueManager` run in this process with
`batch_size=10, max_concurrent_tasks=20`, other settings default.

Driver: asyncpg (PgQueuer's own recommendation) when it is installed. PgQueuer's psycopg
driver waits for notifications with `notifies(timeout=1.0)` while holding the
connection, which puts a ~1 s stall in front of most dequeues (200 sleep jobs took 20 s
instead of 0.6 s), so it is only a fallback and the report says which driver ran.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Sequence
from typing import Any

import psycopg
from pgqueuer import AsyncpgDriver, PsycopgDriver, Queries, QueueManager
from pgqueuer.models import Job
from pgqueuer.ports.driver import Driver

from benchmarks.harness import JobKind, run_job, scalar_int

BATCH_SIZE = 10
HAS_ASYNCPG = importlib.util.find_spec("asyncpg") is not None


async def _driver(url: str) -> tuple[Driver, Any]:
    """A PgQueuer driver on a new connection, and that connection (to close it)."""
    if HAS_ASYNCPG:
        import asyncpg

        conn = await asyncpg.connect(url)
        return AsyncpgDriver(conn), conn
    pconn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    return PsycopgDriver(pconn), pconn


class PgQueuerAdapter:
    name = "PgQueuer"
    driver_name = "asyncpg" if HAS_ASYNCPG else "psycopg"

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Any = None
        self._queries: Queries | None = None
        self._admin: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._worker_conn: Any = None
        self._qm: QueueManager | None = None
        self._worker_task: asyncio.Task[None] | None = None

    @property
    def queries(self) -> Queries:
        assert self._queries is not None, "open() first"
        return self._queries

    @property
    def admin(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        assert self._admin is not None, "open() first"
        return self._admin

    async def open(self) -> None:
        driver, self._conn = await _driver(self.url)
        self._queries = Queries(driver)
        self._admin = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        await self._queries.install()

    async def close(self) -> None:
        await self.stop_worker()
        for conn in (self._conn, self._admin):
            if conn is not None:
                await conn.close()
        self._conn = self._admin = self._queries = None

    async def reset(self) -> None:
        await self.admin.execute("TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics")

    async def enqueue_one(self, kind: JobKind, job_id: int) -> None:
        await self.queries.enqueue(kind, str(job_id).encode())

    async def enqueue_many(self, kind: JobKind, job_ids: Sequence[int]) -> None:
        await self.queries.enqueue(
            [kind] * len(job_ids),
            [str(i).encode() for i in job_ids],
            [0] * len(job_ids),
        )

    async def start_worker(self, concurrency: int) -> None:
        driver, self._worker_conn = await _driver(self.url)
        qm = QueueManager(Queries(driver))

        @qm.entrypoint("noop")
        async def noop(job: Job) -> None:
            await run_job("noop", int(job.payload or b"-1"))

        @qm.entrypoint("sleep")
        async def sleep(job: Job) -> None:
            await run_job("sleep", int(job.payload or b"-1"))

        self._qm = qm
        self._worker_task = asyncio.create_task(
            qm.run(
                batch_size=max(1, min(BATCH_SIZE, concurrency // 2)),
                max_concurrent_tasks=concurrency,
            )
        )

    async def stop_worker(self) -> None:
        if self._qm is not None and self._worker_task is not None:
            self._qm.shutdown.set()
            await self._worker_task
        self._qm = None
        self._worker_task = None
        if self._worker_conn is not None:
            await self._worker_conn.close()
            self._worker_conn = None

    async def unfinished(self) -> int:
        return await scalar_int(self.admin, "SELECT count(*) FROM pgqueuer")

    async def succeeded(self) -> int:
        return await scalar_int(
            self.admin,
            "SELECT count(DISTINCT job_id) FROM pgqueuer_log WHERE status = 'successful'",
        )
