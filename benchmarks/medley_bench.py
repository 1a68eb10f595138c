"""Medley under the benchmark, set up the way its own commands run it.

* PostgreSQL: like `medley worker` — the worker has its own store (pool of
  `min(concurrency + 4, 20)`), polls every 5 s as a fallback to LISTEN/NOTIFY.
* SQLite: like `medley serve --with-worker` / `medley demo` — the worker shares the
  service's store and is woken in-process by each enqueue (`on_enqueued`), polling every
  0.2 s as a fallback.

Everything else is `WorkerConfig`'s defaults; the producer uses `connect_async`, `enqueue`
for single jobs and `enqueue_many` for batches.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence

import psycopg

import medley
from benchmarks.harness import JobKind, run_job, scalar_int
from medley.infrastructure.jobs.runtime.server import WorkerConfig, WorkerServer
from medley.infrastructure.jobs.storage.factory import is_sqlite, sqlite_path
from medley.infrastructure.jobs.storage.port import JobStore
from medley.infrastructure.services.connect import open_store

REGISTRY = medley.JobRegistry()
JOB_NAMES: dict[JobKind, str] = {"noop": "bench.noop", "sleep": "bench.sleep"}


@medley.job(name=JOB_NAMES["noop"], registry=REGISTRY)
async def noop_job(job_id: int) -> None:
    await run_job("noop", job_id)


@medley.job(name=JOB_NAMES["sleep"], registry=REGISTRY)
async def sleep_job(job_id: int) -> None:
    await run_job("sleep", job_id)


JOBS = {"noop": noop_job, "sleep": sleep_job}
UNFINISHED = "SELECT count(*) FROM medley_job WHERE state IN ('enqueued', 'processing')"
SUCCEEDED = "SELECT count(*) FROM medley_job WHERE state = 'succeeded'"


class MedleyAdapter:
    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        self.name = "Medley SQLite" if self.sqlite else "Medley PG"
        self._service: medley.JobService | None = None
        self._admin: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._server: WorkerServer | None = None
        self._worker_store: JobStore | None = None

    @property
    def service(self) -> medley.JobService:
        assert self._service is not None, "open() first"
        return self._service

    async def open(self) -> None:
        self._service = await medley.connect_async(self.url, registry=REGISTRY, auto_migrate=True)
        if not self.sqlite:
            self._admin = await psycopg.AsyncConnection.connect(self.url, autocommit=True)

    async def close(self) -> None:
        await self.stop_worker()
        if self._service is not None:
            await self._service.close()
            self._service = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    async def reset(self) -> None:
        if self._admin is not None:
            await self._admin.execute("TRUNCATE medley_job, medley_job_history")
        else:
            await asyncio.to_thread(
                self._sqlite_run, "DELETE FROM medley_job_history; DELETE FROM medley_job;"
            )

    async def enqueue_one(self, kind: JobKind, job_id: int) -> None:
        await self.service.enqueue(JOBS[kind], job_id)

    async def enqueue_many(self, kind: JobKind, job_ids: Sequence[int]) -> None:
        # Medley's batch API for many calls of one job (as PgQueuer's list-taking
        # `enqueue`); `submit_many` of `EnqueueRequest`s, for mixed jobs and per-job
        # options, costs ~12 us more per job (the models and a full check of each).
        await self.service.enqueue_many(JOBS[kind], [(i,) for i in job_ids])

    async def start_worker(self, concurrency: int) -> None:
        if self.sqlite:
            store = self.service.store
            config = WorkerConfig(concurrency=concurrency, poll_seconds=0.2)
        else:
            store = self._worker_store = await open_store(
                self.url, auto_migrate=False, pool_max=min(concurrency + 4, 20)
            )
            config = WorkerConfig(concurrency=concurrency, poll_seconds=5.0)
        self._server = WorkerServer(store, REGISTRY, config)
        if self.sqlite:
            self.service.on_enqueued.append(self._server.wake)
        await self._server.start()

    async def stop_worker(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            if server.wake in self.service.on_enqueued:
                self.service.on_enqueued.remove(server.wake)
            await server.stop()
        store, self._worker_store = self._worker_store, None
        if store is not None:
            await store.close()

    async def unfinished(self) -> int:
        return await self._count(UNFINISHED)

    async def succeeded(self) -> int:
        return await self._count(SUCCEEDED)

    async def _count(self, query: str) -> int:
        if self._admin is not None:
            return await scalar_int(self._admin, query)
        return self._sqlite_count(query)

    def _sqlite_count(self, query: str) -> int:
        conn = sqlite3.connect(sqlite_path(self.url), timeout=30)
        try:
            row = conn.execute(query).fetchone()
        finally:
            conn.close()
        return int(row[0]) if row else 0

    def _sqlite_run(self, script: str) -> None:
        conn = sqlite3.connect(sqlite_path(self.url), timeout=30)
        try:
            conn.executescript(script)
        finally:
            conn.close()
