"""`BackgroundJobService` on the engine: validation and the state machine in front of a
`JobStore`. Web handlers, the CLI and host applications all go through this class."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from medley.application.errors import (
    InvalidArgumentsError,
    InvalidTransitionError,
    JobNotFoundError,
    WaitTimeoutError,
)
from medley.application.models.jobs import (
    BulkSelection,
    EnqueueRequest,
    EnqueueResult,
    JobFilter,
    JobInfo,
    JobOptions,
    JobPage,
    JobState,
)
from medley.application.models.observability import JobLogLine, JobLogs
from medley.infrastructure.jobs.payload import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    build_insert,
    build_insert_many,
)
from medley.infrastructure.jobs.registry import DEFAULT_REGISTRY, JobRegistry
from medley.infrastructure.jobs.states import RETRYABLE
from medley.infrastructure.jobs.storage.port import (
    InsertedRun,
    JobBulkParams,
    JobInsertParams,
    JobInsertResult,
    JobListParams,
    JobLogListParams,
    JobStore,
    shared_rows,
)
from medley.infrastructure.observability import tracing
from medley.infrastructure.services._mapping import job_info

if TYPE_CHECKING:
    from medley.infrastructure.observability.metrics import JobMetrics
from medley.infrastructure.services._limits import LimitMethods
from medley.infrastructure.services._servers import ServerMethods
from medley.infrastructure.services._workflows import WorkflowMethods

WAIT_POLL_MIN = 0.01
WAIT_POLL_MAX = 0.25
LIST_LIMIT_MAX = 500
LOG_LIMIT_MAX = 5000
BULK_BATCH = 1000
NO_OPTIONS = JobOptions()
"""The options of a plain `enqueue`: built once (a pydantic model costs ~10 us to build)."""
"""Bulk retry/delete work in transactions of this many jobs, so a huge dead-letter queue
never holds one long lock."""


class JobService(WorkflowMethods, LimitMethods, ServerMethods):
    """The engine-backed `BackgroundJobService`. Safe to share across tasks.

    `on_enqueued` callbacks run after a commit with the queues that got runnable jobs, and
    `on_cancel_requested` with the id of a processing job a user cancelled: an in-process
    worker hooks both to react at once where the database cannot notify (SQLite).
    """

    def __init__(
        self,
        store: JobStore,
        registry: JobRegistry | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        owns_store: bool = True,
        prepare: Callable[[], Awaitable[None]] | None = None,
        metrics: JobMetrics | None = None,
    ) -> None:
        self.store = store
        if metrics is None:  # imported here: a job's child process never needs it
            from medley.infrastructure.observability.metrics import DEFAULT_METRICS

            metrics = DEFAULT_METRICS
        self.metrics = metrics
        self._prepare = prepare
        self._prepare_lock = asyncio.Lock()
        self.registry = registry or DEFAULT_REGISTRY
        self.max_payload_bytes = max_payload_bytes
        self.on_enqueued: list[Callable[[set[str]], None]] = []
        self.on_cancel_requested: list[Callable[[int], object]] = []
        self._owns_store = owns_store

    async def open(self) -> JobService:
        """Open the store (and migrate or check the schema) if `connect()` deferred it.
        Every method calls this, so explicit use is optional."""
        if self._prepare is not None:
            async with self._prepare_lock:
                if self._prepare is not None:
                    await self._prepare()
                    self._prepare = None
        return self

    async def __aenter__(self) -> JobService:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- enqueue ----------------------------------------------------------------------

    async def enqueue(self, job: Any, /, *args: Any, **kwargs: Any) -> int:
        await self.open()
        definition = self.registry.resolve(job)
        params = build_insert(
            definition, args, kwargs, NO_OPTIONS, max_payload_bytes=self.max_payload_bytes
        )
        return (await self._insert_rows([params], None))[0].id

    async def enqueue_with(
        self,
        job: Any,
        /,
        *args: Any,
        options: JobOptions,
        **kwargs: Any,
    ) -> int:
        """`enqueue` with per-call options (delay, run_at, queue, unique_key, ...)."""
        await self.open()
        definition = self.registry.resolve(job)
        params = build_insert(
            definition, args, kwargs, options, max_payload_bytes=self.max_payload_bytes
        )
        return (await self._insert_rows([params], None))[0].id

    async def enqueue_many(
        self,
        job: Any,
        arg_lists: Iterable[Sequence[Any]],
        /,
        *,
        options: JobOptions | None = None,
    ) -> list[int]:
        """Enqueue one job many times, one call per tuple of positional arguments, all in
        one transaction; the ids in input order. The fast bulk path: the definition and
        the options are resolved once, not per job (see `build_insert_many`)."""
        await self.open()
        definition = self.registry.resolve(job)
        params = build_insert_many(
            definition,
            list(arg_lists),
            options or NO_OPTIONS,
            max_payload_bytes=self.max_payload_bytes,
        )
        if not params:
            return []
        rows = await self._insert_rows(params, None)
        return list(rows.ids) if isinstance(rows, InsertedRun) else [r.id for r in rows]

    async def submit(
        self, request: EnqueueRequest, *, connection: object | None = None
    ) -> EnqueueResult:
        await self.open()
        return (await self._insert([self._params(request)], connection))[0]

    async def submit_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueResult]:
        await self.open()
        params = [self._params(r) for r in requests]
        return await self._insert(params, None) if params else []

    def _params(self, request: EnqueueRequest) -> JobInsertParams:
        definition = self.registry.get(request.job)
        return build_insert(
            definition,
            request.args,
            request.kwargs,
            request.options,
            max_payload_bytes=self.max_payload_bytes,
        )

    async def _insert(
        self, params: list[JobInsertParams], connection: object | None
    ) -> list[EnqueueResult]:
        rows = await self._insert_rows(params, connection)
        return [EnqueueResult(id=r.id, state=r.state, existing=r.existing) for r in rows]

    async def _insert_rows(
        self, params: Sequence[JobInsertParams], connection: object | None
    ) -> Sequence[JobInsertResult]:
        """Store the jobs; the store's results (the id-only callers skip building an
        `EnqueueResult` model per job)."""
        with tracing.enqueue_span(
            lambda: [p.job for p in params], lambda: [p.queue for p in params]
        ) as trace:
            if trace:  # the attempt's span links back to this one
                params = [replace(p, meta={**p.meta, **trace}) for p in params]
            rows = await self.store.job_insert_many(params, connection=connection)
        self.metrics.jobs_enqueued(params, rows)
        if connection is None:
            queues = {p.queue for p in shared_rows(params) if p.state is JobState.ENQUEUED}
            for callback in self.on_enqueued:
                callback(queues)
        return rows

    # --- follow -----------------------------------------------------------------------

    async def get(self, job_id: int) -> JobInfo:
        await self.open()
        row = await self.store.job_get(job_id)
        if row is None:
            raise JobNotFoundError(job_id)
        return job_info(row, await self.store.job_history(job_id))

    async def list(
        self, filter: JobFilter | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> JobPage:
        await self.open()
        filter = filter or JobFilter()
        if not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidArgumentsError(f"limit must be between 1 and {LIST_LIMIT_MAX}")
        try:
            before_id = int(cursor) if cursor else None
        except ValueError:
            raise InvalidArgumentsError(f"invalid cursor {cursor!r}") from None
        rows = await self.store.job_list(
            JobListParams(
                state=filter.state,
                queue=filter.queue,
                job=filter.job,
                before_id=before_id,
                limit=limit,
            )
        )
        next_cursor = str(rows[-1].id) if len(rows) == limit else None
        return JobPage(items=[job_info(r) for r in rows], next_cursor=next_cursor)

    async def wait(self, job_id: int, timeout: float | None = None) -> JobInfo:
        await self.open()
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = WAIT_POLL_MIN
        while True:
            row = await self.store.job_get(job_id)
            if row is None:
                raise JobNotFoundError(job_id)
            if row.state.is_final:
                return job_info(row, await self.store.job_history(job_id))
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(job_id, timeout or 0.0)
            pause = interval if deadline is None else min(interval, deadline - time.monotonic())
            await asyncio.sleep(max(pause, 0.0))
            interval = min(interval * 1.5, WAIT_POLL_MAX)

    async def job_logs(self, job_id: int, *, after: int = 0, limit: int = 1000) -> JobLogs:
        """The job's stored log lines after line number `after`, oldest first, and how many
        older lines were dropped to stay within the bounds. Raises `JobNotFoundError`."""
        await self.open()
        if not 1 <= limit <= LOG_LIMIT_MAX:
            raise InvalidArgumentsError(f"limit must be between 1 and {LOG_LIMIT_MAX}")
        rows = await self.store.job_log_list(
            JobLogListParams(job_id=job_id, after_seq=max(after, 0), limit=limit)
        )
        if not rows.lines and await self.store.job_get(job_id) is None:
            raise JobNotFoundError(job_id)
        lines = [JobLogLine(**asdict(line)) for line in rows.lines]
        return JobLogs(
            job_id=job_id,
            dropped=rows.dropped,
            lines=lines,
            next_after=lines[-1].seq if len(lines) == limit else None,
        )

    # --- control ----------------------------------------------------------------------

    async def cancel(self, job_id: int) -> JobInfo:
        await self.open()
        before = await self.store.job_get(job_id)
        row = await self.store.job_cancel(job_id)
        if row is None:
            raise JobNotFoundError(job_id)
        if row.state is JobState.CANCELLED and before is not None and not before.state.is_final:
            self.metrics.job_cancelled(row.job, row.queue)  # a processing one: by its worker
        if row.state in (JobState.SUCCEEDED, JobState.FAILED):
            raise InvalidTransitionError(job_id, row.state, JobState.CANCELLED)
        if row.state is JobState.PROCESSING:
            for callback in self.on_cancel_requested:
                callback(job_id)
        return await self.get(job_id)

    async def retry(self, job_id: int) -> JobInfo:
        await self.open()
        before = await self.store.job_get(job_id)
        if before is None:
            raise JobNotFoundError(job_id)
        if before.state not in RETRYABLE:
            raise InvalidTransitionError(job_id, before.state, JobState.ENQUEUED)
        row = await self.store.job_retry(job_id)
        if row is None:
            raise JobNotFoundError(job_id)
        if row.state is not JobState.ENQUEUED:  # lost a race with another retry or delete
            raise InvalidTransitionError(job_id, row.state, JobState.ENQUEUED)
        # The job as the retry left it: read back later, a worker may have run it already.
        info = job_info(row, await self.store.job_history(job_id))
        for callback in self.on_enqueued:
            callback({row.queue})
        return info

    async def delete(self, job_id: int) -> None:
        await self.open()
        row = await self.store.job_delete(job_id)
        if row is None:
            raise JobNotFoundError(job_id)
        if row.state is JobState.PROCESSING:
            raise InvalidTransitionError(job_id, row.state, "deleted")

    async def retry_many(self, selection: BulkSelection) -> int:
        await self.open()
        total = 0
        while True:
            ids = await self.store.job_retry_many(_bulk_params(selection))
            total += len(ids)
            if ids:
                for callback in self.on_enqueued:
                    callback({selection.queue} if selection.queue else set())
            if len(ids) < BULK_BATCH:
                return total

    async def delete_many(self, selection: BulkSelection) -> int:
        await self.open()
        total = 0
        while True:
            ids = await self.store.job_delete_many(_bulk_params(selection))
            total += len(ids)
            if len(ids) < BULK_BATCH:
                return total

    async def close(self) -> None:
        if self._owns_store and self._prepare is None:
            await self.store.close()


def _bulk_params(selection: BulkSelection) -> JobBulkParams:
    return JobBulkParams(
        states=selection.states,
        queue=selection.queue,
        job=selection.job,
        error_type=selection.error_type,
        limit=BULK_BATCH,
    )
