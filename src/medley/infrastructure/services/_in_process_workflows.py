"""Continuations, batches and recurring jobs for `InProcessJobService`, in memory, with the
engine's semantics: a continuation waits in `awaiting`, a parent that fails cancels the
dependants that need it to succeed (transitively, with the reason), a batch releases its
callbacks once with the summary, a recurring job has a name, a cron and a next tick."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from medley.application.errors import (
    BatchClosedError,
    BatchNotFoundError,
    InvalidArgumentsError,
    RecurringJobNotFoundError,
    WaitTimeoutError,
)
from medley.application.models.jobs import (
    EnqueueRequest,
    EnqueueResult,
    JobState,
    StateChangeReason,
)
from medley.application.models.workflows import (
    BatchInfo,
    BatchRequest,
    BatchResult,
    Misfire,
    RecurringInfo,
    RecurringJob,
)
from medley.infrastructure.jobs.cron import CronSchedule
from medley.infrastructure.jobs.recurring import insert_params, plan_fire, upsert_params
from medley.infrastructure.jobs.storage.port import BatchRow, JobInsertParams, JobRow, RecurringRow
from medley.infrastructure.services._workflows import (
    batch_callback,
    batch_info,
    batch_members,
    recurring_info,
)

if TYPE_CHECKING:
    from medley.infrastructure.jobs.registry import JobRegistry


@dataclass(slots=True)
class _Batch:
    id: int
    description: str | None
    total: int
    on_complete_id: int | None
    on_success_id: int | None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    counts: dict[JobState, int] = field(default_factory=dict)
    counted: set[int] = field(default_factory=set)
    finished_at: datetime | None = None

    def row(self) -> BatchRow:
        done = sum(self.counts.values())
        return BatchRow(
            id=self.id,
            description=self.description,
            total=self.total,
            pending=self.total - done,
            succeeded=self.counts.get(JobState.SUCCEEDED, 0),
            failed=self.counts.get(JobState.FAILED, 0),
            cancelled=self.counts.get(JobState.CANCELLED, 0),
            on_complete_id=self.on_complete_id,
            on_success_id=self.on_success_id,
            created_at=self.created_at,
            finished_at=self.finished_at,
        )


class InProcessWorkflows:
    """The workflow half of `InProcessJobService` (a mixin over its job table)."""

    registry: JobRegistry
    eager: bool
    max_payload_bytes: int
    _rows: dict[int, JobRow]

    if TYPE_CHECKING:

        def _set(
            self,
            row: JobRow,
            from_state: JobState | None,
            reason: StateChangeReason,
            error: dict[str, Any] | None = None,
        ) -> JobRow: ...

        async def _run(self, job_id: int) -> None: ...

        async def _insert(self, p: JobInsertParams) -> EnqueueResult: ...

        async def run_pending(self, *, include_future: bool = False) -> int: ...

    def _workflow_init(self) -> None:
        self._edges: dict[int, list[int]] = {}
        self._batches: dict[int, _Batch] = {}
        self._recurring: dict[str, RecurringRow] = {}

    # --- continuations --------------------------------------------------------------

    def _check_parents(self, p: JobInsertParams) -> None:
        for parent in p.depends_on:
            if parent not in self._rows:
                raise InvalidArgumentsError(f"depends_on: there is no job {parent}")

    async def _workflow_inserted(self, row: JobRow) -> None:
        """A continuation was stored `awaiting`: wire it to its parents, settle the final
        ones at once."""
        for parent in row.depends_on:
            self._edges.setdefault(parent, []).append(row.id)
        for parent in row.depends_on:
            if self._rows[parent].state.is_final:
                await self._settle_edge(parent, row.id)

    async def _settle(self, job_id: int) -> None:
        """`job_id` just became final: release or cancel its dependants, count its batch."""
        row = self._rows.get(job_id)
        if row is None or not row.state.is_final:
            return
        for child in self._edges.pop(job_id, []):
            await self._settle_edge(job_id, child)
        if row.batch_id is not None:
            await self._count_in_batch(row)

    async def _settle_edge(self, parent_id: int, child_id: int) -> None:
        parent, child = self._rows[parent_id], self._rows.get(child_id)
        if child is None or child.state is not JobState.AWAITING:
            return
        if parent.state is not JobState.SUCCEEDED and child.continue_on != "any":
            message = f"job {parent_id}, which this job depends on, ended {parent.state}"
            await self._end_awaiting(child, message)
            return
        waiting = [p for p in child.depends_on if not self._rows[p].state.is_final]
        if not waiting:
            await self._release(child)

    async def _end_awaiting(self, row: JobRow, message: str) -> None:
        error = {"type": "DependencyFailedError", "message": message, "traceback": None}
        self._set(
            replace(row, state=JobState.CANCELLED, finished_at=datetime.now(UTC), error=error),
            JobState.AWAITING,
            StateChangeReason.DEPENDENCY_FAILED,
            error,
        )
        await self._settle(row.id)

    async def _release(self, row: JobRow, **changes: Any) -> None:
        released = replace(row, state=JobState.ENQUEUED, run_at=datetime.now(UTC), **changes)
        self._set(released, JobState.AWAITING, StateChangeReason.CONTINUED)
        if self.eager:
            await self._run(row.id)

    # --- batches --------------------------------------------------------------------

    async def _count_in_batch(self, row: JobRow) -> None:
        batch = self._batches[row.batch_id or 0]
        if row.id in batch.counted:
            return
        batch.counted.add(row.id)
        batch.counts[row.state] = batch.counts.get(row.state, 0) + 1
        if len(batch.counted) < batch.total:
            return
        batch.finished_at = datetime.now(UTC)
        summary = batch.row()
        data = {
            "id": batch.id,
            "total": summary.total,
            "succeeded": summary.succeeded,
            "failed": summary.failed,
            "cancelled": summary.cancelled,
        }
        for callback_id in (batch.on_complete_id, batch.on_success_id):
            callback = self._rows.get(callback_id or 0)
            if callback is None or callback.state is not JobState.AWAITING:
                continue
            callback = replace(callback, kwargs={**callback.kwargs, "batch": data})
            if callback_id == batch.on_success_id and summary.failed + summary.cancelled:
                message = f"batch {batch.id} finished with {summary.failed} failed and "
                await self._end_awaiting(callback, message + f"{summary.cancelled} cancelled jobs")
            else:
                await self._release(callback, kwargs=callback.kwargs)

    async def submit_batch(self, batch: BatchRequest) -> BatchResult:
        members = batch_members(self.registry, batch.jobs, self.max_payload_bytes)
        callbacks: dict[str, int | None] = {}
        for role, request in (("complete", batch.on_complete), ("success", batch.on_success)):
            p = batch_callback(self.registry, request, self.max_payload_bytes)
            callbacks[role] = (await self._insert(p)).id if p is not None else None
        batch_id = len(self._batches) + 1
        self._batches[batch_id] = _Batch(
            batch_id, batch.description, len(members), callbacks["complete"], callbacks["success"]
        )
        results = [await self._insert(replace(p, batch_id=batch_id)) for p in members]
        return BatchResult(
            id=batch_id,
            jobs=results,
            on_complete_id=callbacks["complete"],
            on_success_id=callbacks["success"],
        )

    async def batch_add(
        self, batch_id: int, requests: Sequence[EnqueueRequest]
    ) -> list[EnqueueResult]:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise BatchNotFoundError(batch_id)
        if batch.finished_at is not None:
            raise BatchClosedError(batch_id)
        members = batch_members(self.registry, requests, self.max_payload_bytes)
        batch.total += len(members)
        return [await self._insert(replace(p, batch_id=batch_id)) for p in members]

    async def get_batch(self, batch_id: int) -> BatchInfo:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise BatchNotFoundError(batch_id)
        return batch_info(batch.row())

    async def wait_batch(self, batch_id: int, timeout: float | None = None) -> BatchInfo:
        info = await self.get_batch(batch_id)
        if not info.is_finished:
            await self.run_pending(include_future=True)
            info = await self.get_batch(batch_id)
        if not info.is_finished:
            raise WaitTimeoutError(batch_id, timeout or 0.0)
        return info

    async def watch_batch(
        self, batch_id: int, *, interval: float = 0.5
    ) -> AsyncIterator[BatchInfo]:
        yield await self.get_batch(batch_id)
        info = await self.wait_batch(batch_id)
        await asyncio.sleep(0)
        yield info

    # --- recurring jobs -------------------------------------------------------------

    async def recurring_add(self, spec: RecurringJob) -> RecurringInfo:
        now = datetime.now(UTC)
        p = upsert_params(
            spec, self.registry.get(spec.job), now, max_payload_bytes=self.max_payload_bytes
        )
        old = self._recurring.get(spec.name)
        same = old is not None and (old.cron, old.timezone) == (p.cron, p.timezone)
        self._recurring[spec.name] = RecurringRow(
            name=p.name,
            job=p.job,
            args=list(spec.args),
            kwargs=dict(spec.kwargs),
            queue=p.queue,
            priority=p.priority,
            max_attempts=p.max_attempts,
            timeout_seconds=p.timeout_seconds,
            tags=list(p.tags),
            cron=p.cron,
            timezone=p.timezone,
            misfire=p.misfire,
            paused=old.paused if old else False,
            next_run_at=old.next_run_at if old and same else p.next_run_at,
            last_run_at=old.last_run_at if old else None,
            last_job_id=old.last_job_id if old else None,
            last_job_state=None,
            created_at=old.created_at if old else now,
        )
        return await self.recurring_get(spec.name)

    async def recurring_list(self) -> list[RecurringInfo]:
        return [await self.recurring_get(name) for name in sorted(self._recurring)]

    async def recurring_get(self, name: str) -> RecurringInfo:
        row = self._recurring_row(name)
        last = self._rows.get(row.last_job_id or 0)
        return recurring_info(replace(row, last_job_state=last.state if last else None))

    async def recurring_trigger(self, name: str) -> EnqueueResult:
        return await self._fire(self._recurring_row(name), datetime.now(UTC))

    async def recurring_pause(self, name: str) -> RecurringInfo:
        self._recurring[name] = replace(self._recurring_row(name), paused=True)
        return await self.recurring_get(name)

    async def recurring_resume(self, name: str) -> RecurringInfo:
        row = self._recurring_row(name)
        later = CronSchedule.parse(row.cron, row.timezone).next_after(datetime.now(UTC))
        self._recurring[name] = replace(row, paused=False, next_run_at=later)
        return await self.recurring_get(name)

    async def recurring_remove(self, name: str) -> None:
        self._recurring_row(name)
        del self._recurring[name]

    async def run_due_recurring(self, now: datetime | None = None) -> int:
        """Fire what the leader's scheduler would fire at `now` (default: the clock);
        returns how many jobs were enqueued. For host applications' tests."""
        now = now or datetime.now(UTC)
        fired = 0
        for row in list(self._recurring.values()):
            if row.paused or row.next_run_at > now:
                continue
            schedule = CronSchedule.parse(row.cron, row.timezone)
            plan = plan_fire(schedule, row.next_run_at, now, Misfire(row.misfire))
            self._recurring[row.name] = replace(row, next_run_at=plan.next_run_at)
            for tick in plan.ticks:
                await self._fire(self._recurring[row.name], tick)
                fired += 1
        return fired

    async def _fire(self, row: RecurringRow, tick: datetime) -> EnqueueResult:
        result = await self._insert(insert_params(row, tick))
        self._recurring[row.name] = replace(
            self._recurring[row.name], last_run_at=tick, last_job_id=result.id
        )
        return result

    def _recurring_row(self, name: str) -> RecurringRow:
        row = self._recurring.get(name)
        if row is None:
            raise RecurringJobNotFoundError(name)
        return row
