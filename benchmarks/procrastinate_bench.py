"""Procrastinate under the benchmark: `PsycopgConnector` (its default pool), its worker
run in this process with `concurrency=20`, LISTEN/NOTIFY on, other settings default."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import psycopg
from procrastinate import App, PsycopgConnector
from procrastinate.tasks import Task
from procrastinate.types import JSONDict

from benchmarks.harness import JobKind, run_job, scalar_int


class ProcrastinateAdapter:
    name = "Procrastinate"

    def __init__(self, url: str, **pool_kwargs: Any) -> None:
        self.url = url
        self.app = App(connector=PsycopgConnector(conninfo=url, **pool_kwargs))

        async def noop(i: int) -> None:
            await run_job("noop", i)

        async def sleep(i: int) -> None:
            await run_job("sleep", i)

        self._tasks: dict[JobKind, Task[..., Any, ...]] = {
            "noop": self.app.task(name="noop")(noop),
            "sleep": self.app.task(name="sleep")(sleep),
        }
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._worker_task: asyncio.Task[None] | None = None

    @property
    def conn(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        assert self._conn is not None, "open() first"
        return self._conn

    async def open(self) -> None:
        self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        await self.app.open_async()
        await self.app.schema_manager.apply_schema_async()

    async def close(self) -> None:
        await self.stop_worker()
        await self.app.close_async()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def reset(self) -> None:
        await self.conn.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers"
        )

    async def enqueue_one(self, kind: JobKind, job_id: int) -> None:
        await self._tasks[kind].defer_async(i=job_id)

    async def enqueue_many(self, kind: JobKind, job_ids: Sequence[int]) -> None:
        batch: list[JSONDict] = [{"i": i} for i in job_ids]
        await self._tasks[kind].batch_defer_async(*batch)

    async def start_worker(self, concurrency: int) -> None:
        self._worker_task = asyncio.create_task(
            self.app.run_worker_async(
                concurrency=concurrency, wait=True, install_signal_handlers=False
            )
        )

    async def stop_worker(self) -> None:
        task, self._worker_task = self._worker_task, None
        if task is None:
            return
        task.cancel()  # the worker turns cancellation into a graceful stop
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def unfinished(self) -> int:
        return await scalar_int(
            self.conn,
            "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')",
        )

    async def succeeded(self) -> int:
        return await scalar_int(
            self.conn, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
        )
