"""A sync facade for sync web frameworks: the async service on a private loop thread.
Each operation is written once (async); this class only forwards."""

from __future__ import annotations

import asyncio
import builtins
import threading
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from medley.application.models.jobs import (
    EnqueueRequest,
    EnqueueResult,
    JobFilter,
    JobInfo,
    JobOptions,
    JobPage,
)
from medley.application.models.workflows import (
    BatchInfo,
    BatchRequest,
    BatchResult,
    RecurringInfo,
    RecurringJob,
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

    def enqueue_many(
        self,
        job: Any,
        arg_lists: Iterable[Sequence[Any]],
        /,
        *,
        options: JobOptions | None = None,
    ) -> list[int]:
        return self._run(self._service.enqueue_many(job, arg_lists, options=options))

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

    # --- workflows ----------------------------------------------------------------------

    def submit_batch(self, batch: BatchRequest) -> BatchResult:
        return self._run(self._service.submit_batch(batch))

    def batch_add(
        self, batch_id: int, requests: Sequence[EnqueueRequest]
    ) -> builtins.list[EnqueueResult]:
        return self._run(self._service.batch_add(batch_id, requests))

    def get_batch(self, batch_id: int) -> BatchInfo:
        return self._run(self._service.get_batch(batch_id))

    def wait_batch(self, batch_id: int, timeout: float | None = None) -> BatchInfo:
        return self._run(self._service.wait_batch(batch_id, timeout))

    def recurring_add(self, spec: RecurringJob) -> RecurringInfo:
        return self._run(self._service.recurring_add(spec))

    def recurring_list(self) -> builtins.list[RecurringInfo]:
        return self._run(self._service.recurring_list())

    def recurring_trigger(self, name: str) -> EnqueueResult:
        return self._run(self._service.recurring_trigger(name))

    def recurring_pause(self, name: str) -> RecurringInfo:
        return self._run(self._service.recurring_pause(name))

    def recurring_resume(self, name: str) -> RecurringInfo:
        return self._run(self._service.recurring_resume(name))

    def recurring_remove(self, name: str) -> None:
        self._run(self._service.recurring_remove(name))

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
