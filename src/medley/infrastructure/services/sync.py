"""A sync facade for sync web frameworks: the async service on a private loop thread.
Each operation is written once (async); this class only forwards."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from medley.application.models.jobs import (
    EnqueueRequest,
    EnqueueResult,
    JobFilter,
    JobInfo,
    JobOptions,
    JobPage,
)
from medley.infrastructure.services.background_job_service import JobService
from medley.infrastructure.services.connect import connect

T = TypeVar("T")


class SyncJobService:
    """Blocking twin of `JobService`. Thread-safe; close it when done."""

    def __init__(self, service: JobService) -> None:
        self._service = service
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="medley-sync", daemon=True
        )
        self._thread.start()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def enqueue(self, job: Any, /, *args: Any, **kwargs: Any) -> int:
        return self._run(self._service.enqueue(job, *args, **kwargs))

    def enqueue_with(self, job: Any, /, *args: Any, options: JobOptions, **kwargs: Any) -> int:
        return self._run(self._service.enqueue_with(job, *args, options=options, **kwargs))

    def submit(self, request: EnqueueRequest) -> EnqueueResult:
        return self._run(self._service.submit(request))

    def submit_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueResult]:
        return self._run(self._service.submit_many(requests))

    def get(self, job_id: int) -> JobInfo:
        return self._run(self._service.get(job_id))

    def list(
        self, filter: JobFilter | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> JobPage:
        return self._run(self._service.list(filter, limit=limit, cursor=cursor))

    def wait(self, job_id: int, timeout: float | None = None) -> JobInfo:
        return self._run(self._service.wait(job_id, timeout))

    def cancel(self, job_id: int) -> JobInfo:
        return self._run(self._service.cancel(job_id))

    def retry(self, job_id: int) -> JobInfo:
        return self._run(self._service.retry(job_id))

    def delete(self, job_id: int) -> None:
        self._run(self._service.delete(job_id))

    def close(self) -> None:
        try:
            self._run(self._service.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()

    def __enter__(self) -> SyncJobService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_sync(url: str, **options: Any) -> SyncJobService:
    """`connect()` for sync code: every method blocks until done."""
    return SyncJobService(connect(url, **options))
