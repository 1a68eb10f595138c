"""PgQueuer under the benchmark: psycopg 3 driver (the same driver Medley uses), its
`QueueManager` run in this process with `batch_size=10, max_concurrent_tasks=20`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import psycopg
from pgqueuer import PsycopgDriver, Queries, QueueManager
from pgqueuer.models import Job

from benchmarks.harness import JobKind, run_job, scalar_int

BATCH_SIZE = 10


class PgQueuerAdapter:
    name = "PgQueuer"

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._queries: Queries | None = None
        self._worker_conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._qm: QueueManager | None = None
        self._worker_task: asyncio.Task[None] | None = None

    @property
    def conn(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        assert self._conn is not None, "open() first"
        return self._conn

    @property
    def queries(self) -> Queries:
        assert self._queries is not None, "open() first"
        return self._queries

    async def open(self) -> None:
        self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        self._queries = Queries(PsycopgDriver(self._conn))
        await self._queries.install()

    async def close(self) -> None:
        await self.stop_worker()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def reset(self) -> None:
        await self.conn.execute("TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics")

    async def enqueue_one(self, kind: JobKind, job_id: int) -> None:
        await self.queries.enqueue(kind, str(job_id).encode())

    async def enqueue_many(self, kind: JobKind, job_ids: Sequence[int]) -> None:
        await self.queries.enqueue(
            [kind] * len(job_ids),
            [str(i).encode() for i in job_ids],
            [0] * len(job_ids),
        )

    async def start_worker(self, concurrency: int) -> None:
        self._worker_conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        qm = QueueManager(Queries(PsycopgDriver(self._worker_conn)))

        @qm.entrypoint("noop")
        async def noop(job: Job) -> None:
            await run_job("noop", int(job.payload or b"-1"))

        @qm.entrypoint("sleep")
        async def sleep(job: Job) -> None:
            await run_job("sleep", int(job.payload or b"-1"))

        self._qm = qm
        self._worker_task = asyncio.create_task(
            qm.run(batch_size=min(BATCH_SIZE, concurrency // 2), max_concurrent_tasks=concurrency)
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
        return await scalar_int(self.conn, "SELECT count(*) FROM pgqueuer")

    async def succeeded(self) -> int:
        return await scalar_int(
            self.conn,
            "SELECT count(DISTINCT job_id) FROM pgqueuer_log WHERE status = 'successful'",
        )
