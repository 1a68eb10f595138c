"""The seam callers depend on: `BackgroundJobService`. The engine implements it, and so
does the in-process service for host applications' unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from medley.application.models.jobs import (
    BulkSelection,
    EnqueueRequest,
    EnqueueResult,
    JobFilter,
    JobInfo,
    JobPage,
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
