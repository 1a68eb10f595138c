"""`BackgroundJobService` without a database or a worker, for host applications' unit tests.

Unlike Celery's eager mode it keeps the contract honest: arguments and results go through
the same JSON encoding and validation as the real engine, jobs move through the same
states with a recorded history, and the same executor turns errors into retries.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from medley.application.errors import InvalidTransitionError, JobNotFoundError, WaitTimeoutError
from medley.application.models.jobs import (
    BulkSelection,
    EnqueueRequest,
    EnqueueResult,
    JobFilter,
    JobInfo,
    JobOptions,
    JobPage,
    JobState,
    StateChangeReason,
)
from medley.infrastructure.jobs.payload import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    build_insert,
    build_insert_many,
)
from medley.infrastructure.jobs.registry import DEFAULT_REGISTRY, JobRegistry
from medley.infrastructure.jobs.runtime.executor import JobExecutor
from medley.infrastructure.jobs.states import CANCELLABLE, RETRYABLE
from medley.infrastructure.jobs.storage.port import HistoryRow, JobInsertParams, JobRow
from medley.infrastructure.services._in_process_workflows import InProcessWorkflows
from medley.infrastructure.services._mapping import job_info

WORKER = "in-process"


class InProcessJobService(InProcessWorkflows):
    """Runs each job at enqueue (`eager=True`) or on `run_pending()`. Not durable."""

    def __init__(
        self,
        registry: JobRegistry | None = None,
        *,
        eager: bool = True,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        self.registry = registry or DEFAULT_REGISTRY
        self.eager = eager
        self.max_payload_bytes = max_payload_bytes
        self._rows: dict[int, JobRow] = {}
        self._history: dict[int, list[HistoryRow]] = {}
        self._ids = itertools.count(1)
        self._executor = JobExecutor(self.registry, worker_id=WORKER, threads=ThreadPoolExecutor(4))
        self._workflow_init()

    async def enqueue(self, job: Any, /, *args: Any, **kwargs: Any) -> int:
        return await self.enqueue_with(job, *args, options=JobOptions(), **kwargs)

    async def enqueue_with(
        self, job: Any, /, *args: Any, options: JobOptions, **kwargs: Any
    ) -> int:
        definition = self.registry.resolve(job)
        params = build_insert(
            definition, args, kwargs, options, max_payload_bytes=self.max_payload_bytes
        )
        return (await self._insert(params)).id

    async def enqueue_many(
        self,
        job: Any,
        arg_lists: Iterable[Sequence[Any]],
        /,
        *,
        options: JobOptions | None = None,
    ) -> list[int]:
        definition = self.registry.resolve(job)
        params = build_insert_many(
            definition,
            list(arg_lists),
            options or JobOptions(),
            max_payload_bytes=self.max_payload_bytes,
        )
        return [(await self._insert(p)).id for p in params]

    async def submit(
        self, request: EnqueueRequest, *, connection: object | None = None
    ) -> EnqueueResult:
        definition = self.registry.get(request.job)
        params = build_insert(
            definition,
            request.args,
            request.kwargs,
            request.options,
            max_payload_bytes=self.max_payload_bytes,
        )
        return await self._insert(params)

    async def submit_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueResult]:
        return [await self.submit(r) for r in requests]

    async def _insert(self, p: JobInsertParams) -> EnqueueResult:
        self._check_parents(p)
        for row in self._rows.values():
            if p.unique_key and row.unique_key == p.unique_key and not row.state.is_final:
                return EnqueueResult(id=row.id, state=row.state, existing=True)
        now = datetime.now(UTC)
        row = JobRow(
            id=next(self._ids),
            job=p.job,
            queue=p.queue,
            priority=p.priority,
            state=p.state,
            args=json.loads(p.payload_json[0]),
            kwargs=json.loads(p.payload_json[1]),
            attempt=0,
            max_attempts=p.max_attempts,
            timeout_seconds=p.timeout_seconds,
            unique_key=p.unique_key,
            tags=list(p.tags),
            progress_fraction=None,
            progress_message=None,
            result=None,
            error=None,
            lease_owner=None,
            cancel_requested=False,
            created_at=now,
            run_at=p.run_at or now,
            started_at=None,
            finished_at=None,
            batch_id=p.batch_id,
            depends_on=list(p.depends_on),
            continue_on=p.continue_on if p.depends_on else None,
        )
        self._rows[row.id] = row
        reason = (
            StateChangeReason.SCHEDULED
            if p.state is JobState.SCHEDULED
            else StateChangeReason.ENQUEUED
        )
        self._record(row, None, reason)
        if row.depends_on:
            await self._workflow_inserted(row)
        if self.eager and row.state is JobState.ENQUEUED:
            await self._run(row.id)
        return EnqueueResult(id=row.id, state=self._rows[row.id].state)

    def _record(
        self,
        row: JobRow,
        from_state: JobState | None,
        reason: StateChangeReason,
        error: dict[str, Any] | None = None,
    ) -> None:
        self._history.setdefault(row.id, []).append(
            HistoryRow(
                job_id=row.id,
                at=datetime.now(UTC),
                from_state=from_state,
                to_state=row.state,
                reason=reason,
                attempt=row.attempt,
                worker=WORKER if from_state is JobState.PROCESSING else None,
                error=error,
            )
        )

    def _set(
        self,
        row: JobRow,
        from_state: JobState | None,
        reason: StateChangeReason,
        error: dict[str, Any] | None = None,
    ) -> JobRow:
        self._rows[row.id] = row
        self._record(row, from_state, reason, error)
        return row

    async def _run(self, job_id: int) -> None:
        row = self._rows[job_id]
        running = self._set(
            replace(
                row,
                state=JobState.PROCESSING,
                attempt=row.attempt + 1,
                started_at=datetime.now(UTC),
                lease_owner=WORKER,
            ),
            row.state,
            StateChangeReason.FETCHED,
        )
        ctx = self._executor.context_for(running)
        outcome = await self._executor.execute(running, ctx)
        final = outcome.state.is_final
        self._set(
            replace(
                running,
                state=outcome.state,
                lease_owner=None,
                result=json.loads(outcome.result_json) if outcome.result_json else None,
                error=outcome.error or running.error,
                run_at=outcome.run_at or running.run_at,
                finished_at=datetime.now(UTC) if final else None,
                progress_fraction=outcome.progress_fraction,
                progress_message=outcome.progress_message,
            ),
            JobState.PROCESSING,
            outcome.reason,
            outcome.error,
        )
        await self._settle(job_id)  # dependants and batch of a job that just ended

    async def run_pending(self, *, include_future: bool = False) -> int:
        """Run every runnable job (and scheduled ones not yet due when `include_future`,
        which fast-forwards retries); repeat until none is left. Returns attempts run."""
        ran = 0
        while True:
            now = datetime.now(UTC)
            due = [
                r.id
                for r in self._rows.values()
                if r.state is JobState.ENQUEUED
                or (r.state is JobState.SCHEDULED and (include_future or r.run_at <= now))
            ]
            if not due:
                return ran
            for job_id in due:
                await self._run(job_id)
                ran += 1

    def _row(self, job_id: int) -> JobRow:
        row = self._rows.get(job_id)
        if row is None:
            raise JobNotFoundError(job_id)
        return row

    async def get(self, job_id: int) -> JobInfo:
        return job_info(self._row(job_id), self._history[job_id])

    async def list(
        self, filter: JobFilter | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> JobPage:
        f = filter or JobFilter()
        before = int(cursor) if cursor else None
        rows = [
            r
            for r in sorted(self._rows.values(), key=lambda r: -r.id)
            if (f.state is None or r.state is f.state)
            and (f.queue is None or r.queue == f.queue)
            and (f.job is None or r.job == f.job)
            and (before is None or r.id < before)
        ][:limit]
        return JobPage(
            items=[job_info(r) for r in rows],
            next_cursor=str(rows[-1].id) if len(rows) == limit else None,
        )

    async def wait(self, job_id: int, timeout: float | None = None) -> JobInfo:
        info = await self.get(job_id)
        if not info.state.is_final:
            await self.run_pending(include_future=True)
            info = await self.get(job_id)
        if not info.state.is_final:
            raise WaitTimeoutError(job_id, timeout or 0.0)
        return info

    async def cancel(self, job_id: int) -> JobInfo:
        row = self._row(job_id)
        if row.state in CANCELLABLE:
            self._set(
                replace(row, state=JobState.CANCELLED, finished_at=datetime.now(UTC)),
                row.state,
                StateChangeReason.CANCELLED,
            )
            await self._settle(job_id)
        elif row.state is not JobState.CANCELLED:
            raise InvalidTransitionError(job_id, row.state, JobState.CANCELLED)
        return await self.get(job_id)

    async def retry(self, job_id: int) -> JobInfo:
        row = self._row(job_id)
        if row.state not in RETRYABLE:
            raise InvalidTransitionError(job_id, row.state, JobState.ENQUEUED)
        self._set(
            replace(row, state=JobState.ENQUEUED, attempt=0, result=None, finished_at=None),
            row.state,
            StateChangeReason.RETRIED_BY_USER,
        )
        if self.eager:
            await self._run(job_id)
        return await self.get(job_id)

    async def delete(self, job_id: int) -> None:
        if self._row(job_id).state in CANCELLABLE:  # its dependants and batch must not wait
            await self.cancel(job_id)
        self._rows.pop(job_id)
        self._history.pop(job_id)

    def _selected(self, selection: BulkSelection) -> tuple[JobRow, ...]:
        return tuple(
            r
            for r in self._rows.values()
            if r.state in selection.states
            and selection.queue in (None, r.queue)
            and selection.job in (None, r.job)
            and selection.error_type in (None, (r.error or {}).get("type"))
        )

    async def retry_many(self, selection: BulkSelection) -> int:
        chosen = self._selected(selection)
        for row in chosen:
            await self.retry(row.id)
        return len(chosen)

    async def delete_many(self, selection: BulkSelection) -> int:
        chosen = self._selected(selection)
        for row in chosen:
            await self.delete(row.id)
        return len(chosen)

    async def close(self) -> None:
        self._executor.threads.shutdown(wait=False)
        await asyncio.sleep(0)
