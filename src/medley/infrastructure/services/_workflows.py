"""Recurring jobs and batches on `JobService` (continuations are job options). A mixin,
so that the service keeps one public surface while each concern stays a small module."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from medley.application.errors import (
    BatchNotFoundError,
    InvalidArgumentsError,
    RecurringJobNotFoundError,
    WaitTimeoutError,
)
from medley.application.models.jobs import EnqueueRequest, EnqueueResult, JobState, Progress
from medley.application.models.workflows import (
    BatchInfo,
    BatchRequest,
    BatchResult,
    Misfire,
    RecurringInfo,
    RecurringJob,
)
from medley.infrastructure.jobs.cron import CronSchedule
from medley.infrastructure.jobs.payload import build_insert
from medley.infrastructure.jobs.recurring import insert_params, upsert_params
from medley.infrastructure.jobs.registry import JobRegistry
from medley.infrastructure.jobs.storage.port import (
    BatchInsertParams,
    BatchRow,
    JobInsertParams,
    JobStore,
    RecurringFireParams,
    RecurringRow,
)

BATCH_WATCH_INTERVAL = 0.5
"""Seconds between two reads of a batch's progress while it is streamed."""


class WorkflowMethods:
    """Recurring jobs (`recurring_*`) and batches (`submit_batch`, `batch_add`,
    `get_batch`, `wait_batch`, `watch_batch`)."""

    store: JobStore
    registry: JobRegistry
    max_payload_bytes: int
    on_enqueued: list[Callable[[set[str]], None]]

    if TYPE_CHECKING:

        async def open(self) -> object: ...

    # --- recurring jobs -----------------------------------------------------------------

    async def recurring_add(self, spec: RecurringJob) -> RecurringInfo:
        """Create or redefine a recurring job by name (the next tick is kept if the cron
        and time zone are unchanged). Raises `UnknownJobError`, `InvalidArgumentsError`,
        `InvalidScheduleError`."""
        await self.open()
        definition = self.registry.get(spec.job)
        now = datetime.now(UTC)
        params = upsert_params(spec, definition, now, max_payload_bytes=self.max_payload_bytes)
        row = await self.store.recurring_upsert(params)
        return recurring_info(row)

    async def recurring_list(self) -> list[RecurringInfo]:
        """Every recurring job by name, with its next tick and the state of its last run."""
        await self.open()
        return [recurring_info(row) for row in await self.store.recurring_list()]

    async def recurring_get(self, name: str) -> RecurringInfo:
        """Raises `RecurringJobNotFoundError`."""
        return recurring_info(await self._recurring_row(name))

    async def recurring_trigger(self, name: str) -> EnqueueResult:
        """Enqueue one run now, outside the schedule (the next tick does not move), even
        while paused. Raises `RecurringJobNotFoundError`."""
        row = await self._recurring_row(name)
        now = datetime.now(UTC)
        fired = await self.store.recurring_fire(
            RecurringFireParams(name=name, jobs=[insert_params(row, now)], last_run_at=now)
        )
        if not fired:  # removed between the read and the trigger
            raise RecurringJobNotFoundError(name)
        self._woke({row.queue})
        return EnqueueResult(id=fired[0].id, state=fired[0].state, existing=fired[0].existing)

    async def recurring_pause(self, name: str) -> RecurringInfo:
        """Stop firing until resumed (idempotent). Raises `RecurringJobNotFoundError`."""
        await self.open()
        row = await self.store.recurring_set_paused(name, True)
        if row is None:
            raise RecurringJobNotFoundError(name)
        return recurring_info(row)

    async def recurring_resume(self, name: str) -> RecurringInfo:
        """Fire again from the next tick after now: ticks missed while paused are not run.
        Raises `RecurringJobNotFoundError`."""
        row = await self._recurring_row(name)
        next_run_at = CronSchedule.parse(row.cron, row.timezone).next_after(datetime.now(UTC))
        resumed = await self.store.recurring_set_paused(name, False, next_run_at)
        if resumed is None:
            raise RecurringJobNotFoundError(name)
        return recurring_info(resumed)

    async def recurring_remove(self, name: str) -> None:
        """Remove a recurring job; the jobs it fired stay. Raises `RecurringJobNotFoundError`.
        A job still declared in code comes back when a worker next starts."""
        await self.open()
        if not await self.store.recurring_delete(name):
            raise RecurringJobNotFoundError(name)

    async def _recurring_row(self, name: str) -> RecurringRow:
        await self.open()
        row = await self.store.recurring_get(name)
        if row is None:
            raise RecurringJobNotFoundError(name)
        return row

    # --- batches ------------------------------------------------------------------------

    async def submit_batch(self, batch: BatchRequest) -> BatchResult:
        """Enqueue jobs as one batch, atomically, with optional callbacks that run once
        when all are final (`on_complete`) or all succeeded (`on_success`). Callbacks get
        the summary as keyword argument `batch`. Raises `UnknownJobError`,
        `InvalidArgumentsError`."""
        await self.open()
        members = self._members(batch.jobs)
        result = await self.store.batch_insert(
            BatchInsertParams(
                jobs=members,
                on_complete=self._callback(batch.on_complete),
                on_success=self._callback(batch.on_success),
                description=batch.description,
            )
        )
        self._woke({p.queue for p in members if p.state is JobState.ENQUEUED})
        return BatchResult(
            id=result.id,
            jobs=[EnqueueResult(id=r.id, state=r.state, existing=r.existing) for r in result.jobs],
            on_complete_id=result.on_complete_id,
            on_success_id=result.on_success_id,
        )

    async def batch_add(
        self, batch_id: int, requests: Sequence[EnqueueRequest]
    ) -> list[EnqueueResult]:
        """Add jobs to a running batch: a member may fan out into more work it discovers.
        Raises `BatchNotFoundError`, `BatchClosedError` (the batch already finished)."""
        await self.open()
        if not requests:
            return []
        members = self._members(requests)
        rows = await self.store.batch_add(batch_id, members)
        self._woke({p.queue for p in members if p.state is JobState.ENQUEUED})
        return [EnqueueResult(id=r.id, state=r.state, existing=r.existing) for r in rows]

    async def get_batch(self, batch_id: int) -> BatchInfo:
        """The batch's counters and progress. Raises `BatchNotFoundError`."""
        await self.open()
        row = await self.store.batch_get(batch_id)
        if row is None:
            raise BatchNotFoundError(batch_id)
        return batch_info(row)

    async def wait_batch(self, batch_id: int, timeout: float | None = None) -> BatchInfo:
        """Return the batch once every job in it is final. Raises `WaitTimeoutError`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        async for info in self.watch_batch(batch_id, interval=0.05):
            if info.is_finished:
                return info
            if deadline is not None and time.monotonic() >= deadline:
                break
        raise WaitTimeoutError(batch_id, timeout or 0.0)

    async def watch_batch(
        self, batch_id: int, *, interval: float = BATCH_WATCH_INTERVAL
    ) -> AsyncIterator[BatchInfo]:
        """Stream the batch's progress: the current state first, then every change, until
        it has finished (the last item). Raises `BatchNotFoundError`."""
        last: BatchInfo | None = None
        while True:
            info = await self.get_batch(batch_id)
            if info != last:
                yield info
                last = info
            if info.is_finished:
                return
            await asyncio.sleep(interval)

    def _members(self, requests: Sequence[EnqueueRequest]) -> list[JobInsertParams]:
        return batch_members(self.registry, requests, self.max_payload_bytes)

    def _callback(self, request: EnqueueRequest | None) -> JobInsertParams | None:
        return batch_callback(self.registry, request, self.max_payload_bytes)

    def _woke(self, queues: set[str]) -> None:
        if queues:
            for callback in self.on_enqueued:
                callback(queues)


def batch_members(
    registry: JobRegistry, requests: Sequence[EnqueueRequest], max_payload_bytes: int
) -> list[JobInsertParams]:
    """Validated rows of a batch's jobs (a unique key would let a member be dropped)."""
    members = [_params_of(registry, r, max_payload_bytes) for r in requests]
    if any(p.unique_key for p in members):
        raise InvalidArgumentsError("batch jobs cannot have a unique_key")
    return members


def batch_callback(
    registry: JobRegistry, request: EnqueueRequest | None, max_payload_bytes: int
) -> JobInsertParams | None:
    """The validated row of a batch callback, stored `awaiting` until the batch is done."""
    if request is None:
        return None
    if request.options.depends_on or request.options.run_at or request.options.delay:
        raise InvalidArgumentsError("a batch callback runs when its batch is done")
    # The summary arrives as kwargs["batch"]: check the signature with it in place.
    with_batch = request.model_copy(update={"kwargs": {**request.kwargs, "batch": None}})
    params = _params_of(registry, with_batch, max_payload_bytes)
    return replace(params, state=JobState.AWAITING)


def _params_of(
    registry: JobRegistry, request: EnqueueRequest, max_payload_bytes: int
) -> JobInsertParams:
    return build_insert(
        registry.get(request.job),
        request.args,
        request.kwargs,
        request.options,
        max_payload_bytes=max_payload_bytes,
    )


def recurring_info(row: RecurringRow) -> RecurringInfo:
    return RecurringInfo(
        name=row.name,
        job=row.job,
        cron=row.cron,
        timezone=row.timezone,
        args=list(row.args),
        kwargs=dict(row.kwargs),
        queue=row.queue,
        misfire=Misfire(row.misfire),
        paused=row.paused,
        next_run_at=row.next_run_at,
        last_run_at=row.last_run_at,
        last_job_id=row.last_job_id,
        last_state=row.last_job_state,
        created_at=row.created_at,
    )


def batch_info(row: BatchRow) -> BatchInfo:
    done = row.succeeded + row.failed + row.cancelled
    message = f"{done}/{row.total} done"
    if row.failed or row.cancelled:
        message += f", {row.failed} failed, {row.cancelled} cancelled"
    return BatchInfo(
        id=row.id,
        description=row.description,
        total=row.total,
        pending=row.pending,
        succeeded=row.succeeded,
        failed=row.failed,
        cancelled=row.cancelled,
        progress=Progress(fraction=done / row.total if row.total else 1.0, message=message),
        on_complete_id=row.on_complete_id,
        on_success_id=row.on_success_id,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )
