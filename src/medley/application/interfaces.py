"""The seam callers depend on: `BackgroundJobService`. The engine implements it, and so
does the in-process service for host applications' unit tests."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from medley.application.models.jobs import (
    BulkSelection,
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


@runtime_checkable
class BackgroundJobService(Protocol):
    """Enqueue jobs and follow them. Every method is safe to call concurrently."""

    async def enqueue(self, job: Any, /, *args: Any, **kwargs: Any) -> int:
        """Enqueue `job` (a registered job, or its name) with these arguments; return its id.

        A job declared with a `unique_key` that matches a live job returns that job's id.
        Raises `UnknownJobError`, `InvalidArgumentsError`, `PayloadTooLargeError`.
        """
        ...

    async def enqueue_many(
        self,
        job: Any,
        arg_lists: Iterable[Sequence[Any]],
        /,
        *,
        options: JobOptions | None = None,
    ) -> builtins.list[int]:
        """Enqueue `job` once per tuple of positional arguments in `arg_lists`, all with
        the same `options`, in one transaction (all or none are stored); the ids in input
        order. The fastest way to enqueue many jobs of one function: `submit_many` is for
        mixed jobs, keyword arguments and per-job options.
        Raises `UnknownJobError`, `InvalidArgumentsError`, `PayloadTooLargeError`.
        """
        ...

    async def submit(
        self, request: EnqueueRequest, *, connection: object | None = None
    ) -> EnqueueResult:
        """Enqueue one request. With `connection` (the caller's own open database
        connection, inside its transaction), the job exists iff that transaction commits."""
        ...

    async def submit_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueResult]:
        """Enqueue many requests in one transaction: all or none are stored."""
        ...

    async def get(self, job_id: int) -> JobInfo:
        """The job with its history. Raises `JobNotFoundError`."""
        ...

    async def list(
        self, filter: JobFilter | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> JobPage:
        """Jobs newest first, filtered, with keyset pagination."""
        ...

    async def wait(self, job_id: int, timeout: float | None = None) -> JobInfo:
        """Return the job once it is final. Raises `WaitTimeoutError` after `timeout` s."""
        ...

    async def cancel(self, job_id: int) -> JobInfo:
        """Cancel a job: at once unless it is processing, in which case its worker is
        asked to stop. Raises `InvalidTransitionError` for a final job."""
        ...

    async def retry(self, job_id: int) -> JobInfo:
        """Enqueue a failed or cancelled job again. Raises `InvalidTransitionError`."""
        ...

    async def delete(self, job_id: int) -> None:
        """Delete a job that is not processing, with its history."""
        ...

    async def retry_many(self, selection: BulkSelection) -> int:
        """Retry every final job matching `selection`; returns how many were enqueued."""
        ...

    async def delete_many(self, selection: BulkSelection) -> int:
        """Delete every final job matching `selection`; returns how many were deleted."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...

    # --- workflows: recurring jobs and batches (continuations: JobOptions.depends_on) ---

    async def recurring_add(self, spec: RecurringJob) -> RecurringInfo:
        """Create or redefine a recurring job by name; its next tick is kept when the cron
        and time zone are unchanged. Raises `UnknownJobError`, `InvalidScheduleError`."""
        ...

    async def recurring_list(self) -> builtins.list[RecurringInfo]:
        """Every recurring job, with its next tick and the state of its last run."""
        ...

    async def recurring_get(self, name: str) -> RecurringInfo:
        """Raises `RecurringJobNotFoundError`."""
        ...

    async def recurring_trigger(self, name: str) -> EnqueueResult:
        """Run once now, outside the schedule (the next tick does not move)."""
        ...

    async def recurring_pause(self, name: str) -> RecurringInfo:
        """Stop firing until resumed."""
        ...

    async def recurring_resume(self, name: str) -> RecurringInfo:
        """Fire again from the next tick after now (ticks missed while paused are not run)."""
        ...

    async def recurring_remove(self, name: str) -> None:
        """Remove a recurring job; the jobs it fired stay."""
        ...

    async def submit_batch(self, batch: BatchRequest) -> BatchResult:
        """Enqueue jobs as one batch, with callbacks run once when all are done."""
        ...

    async def batch_add(
        self, batch_id: int, requests: Sequence[EnqueueRequest]
    ) -> builtins.list[EnqueueResult]:
        """Add jobs to a batch that is still running. Raises `BatchClosedError`."""
        ...

    async def get_batch(self, batch_id: int) -> BatchInfo:
        """The batch's progress. Raises `BatchNotFoundError`."""
        ...

    async def wait_batch(self, batch_id: int, timeout: float | None = None) -> BatchInfo:
        """Return the batch once all its jobs are final. Raises `WaitTimeoutError`."""
        ...

    def watch_batch(self, batch_id: int, *, interval: float = 0.5) -> AsyncIterator[BatchInfo]:
        """Stream the batch's progress on every change until it has finished."""
        ...
