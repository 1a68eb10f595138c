"""Run one job attempt and turn whatever happens into a `JobCompletion`. No SQL here.

This is the one broad `except Exception` of the engine: user code may raise anything, and
a failing job must never stop the worker.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import traceback
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Executor
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from typing import Any

from medley.application.errors import InvalidArgumentsError, UnknownJobError
from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure import tasks
from medley.infrastructure.jobs.context import JobCancelledError, JobContext, JobIdentity
from medley.infrastructure.jobs.control import Retry, Snooze
from medley.infrastructure.jobs.payload import encode_json
from medley.infrastructure.jobs.registry import JobDefinition, JobRegistry
from medley.infrastructure.jobs.retry import RetryPolicy
from medley.infrastructure.jobs.runtime.process_runner import ProcessRunner, RemoteJobError
from medley.infrastructure.jobs.storage.port import JobCompletion, JobRow, ProgressUpdate
from medley.infrastructure.observability import remote
from medley.infrastructure.observability.attempt import AttemptScope
from medley.infrastructure.observability.joblog import JobLogCollector

log = logging.getLogger("medley.worker")

STOP_CANCEL = "cancelled by user"
STOP_SHUTDOWN = "worker shutting down"
STOP_TIMEOUT = "timed out"


def error_dict(exc: BaseException, duration: float | None = None) -> dict[str, Any]:
    """The stored form of an attempt's error; a child process's error keeps its own type
    name and traceback."""
    if isinstance(exc, RemoteJobError):
        kind, trace = exc.type_name, exc.remote_traceback
    else:
        kind, trace = type(exc).__name__, "".join(traceback.format_exception(exc))
    error: dict[str, Any] = {"type": kind, "message": str(exc), "traceback": trace}
    if duration is not None:
        error["duration_seconds"] = round(duration, 6)
    return error


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _log_fields(row: JobRow, worker: str) -> dict[str, Any]:
    return {
        "job_id": row.id,
        "job": row.job,
        "queue": row.queue,
        "attempt": row.attempt,
        "worker": worker,
    }


class JobExecutor:
    """Runs attempts: async jobs on the loop, sync jobs in `threads`, CPU-bound jobs in
    `processes` (when given; otherwise threads)."""

    def __init__(
        self,
        registry: JobRegistry,
        *,
        worker_id: str,
        threads: Executor,
        processes: ProcessRunner | None = None,
        retry_policy: RetryPolicy | None = None,
        report_progress: Callable[[ProgressUpdate], None] | None = None,
        queue_timeouts: Mapping[str, float] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        job_logs: JobLogCollector | None = None,
    ) -> None:
        self.registry = registry
        self.job_logs = job_logs
        self.worker_id = worker_id
        self.threads = threads
        self.processes = processes
        self.retry_policy = retry_policy or RetryPolicy()
        self.report_progress = report_progress
        self.queue_timeouts = dict(queue_timeouts or {})
        self.clock = clock

    def context_for(self, row: JobRow) -> JobContext:
        identity = JobIdentity(
            row.id, row.job, row.queue, row.attempt, self.worker_id, row.batch_id
        )
        capture = self.job_logs.sink(row.id, row.attempt) if self.job_logs else None
        request_id = row.meta.get("request_id")
        return JobContext(identity, self.report_progress, request_id=request_id, capture=capture)

    async def execute(self, row: JobRow, ctx: JobContext) -> JobCompletion:
        """Run the attempt; never raises except `CancelledError` of the worker itself.
        Everything it logs, in any task or thread of its own, carries the job's fields."""
        with AttemptScope(ctx, row.meta, capture_all=self._capture_all):
            return await self._execute(row, ctx)

    @property
    def _capture_all(self) -> bool:
        return self.job_logs is not None and self.job_logs.config.capture == "all"

    async def _execute(self, row: JobRow, ctx: JobContext) -> JobCompletion:
        started = time.monotonic()
        try:
            definition = self.registry.get(row.job)
        except UnknownJobError as exc:
            return self._failed(row, ctx, exc, StateChangeReason.FAILED, retry=False)
        timeout = (
            row.timeout_seconds
            or (definition.timeout.total_seconds() if definition.timeout else None)
            or self.queue_timeouts.get(row.queue)
        )
        try:
            result = await self._call(definition, row, ctx, timeout)
            result_json = encode_json(result, f"result of job {row.job!r}")
        except asyncio.CancelledError:
            # Checkpoint: cancelled from outside. A user cancel or a timeout is an outcome;
            # a shutdown gives the job back; anything else is the worker itself stopping.
            return self._stopped(row, ctx)
        except TimeoutError:
            if ctx.stop_reason in (STOP_CANCEL, STOP_SHUTDOWN):
                # A cancel or a shutdown that came while a timed-out job was being stopped:
                # the job's end answers it, and is not a failed attempt to retry.
                return self._stopped(row, ctx)
            ctx.request_stop(STOP_TIMEOUT)
            timed_out = TimeoutError(f"the job exceeded its timeout of {timeout:g}s")
            return self._failed(row, ctx, timed_out, StateChangeReason.TIMED_OUT, retry=True)
        except JobCancelledError:
            return self._stopped(row, ctx)
        except Snooze as exc:
            run_at = self.clock() + exc.delay
            if exc.limit_backoff and ctx.reported_tokens is None:
                ctx.report_usage(tokens=0)  # a 429 costs no tokens: give the reservation back
            return self._completion(
                row,
                ctx,
                JobState.SCHEDULED,
                StateChangeReason.SNOOZED,
                run_at=run_at,
                release=True,
                limit_blocked_until=run_at if exc.limit_backoff else None,  # 429: limit too
            )
        except Retry as exc:
            return self._failed(
                row, ctx, exc, StateChangeReason.FAILED, retry=True, delay=exc.delay
            )
        except InvalidArgumentsError as exc:
            return self._failed(row, ctx, exc, StateChangeReason.FAILED, retry=False)
        except Exception as exc:
            retry = definition.should_retry(exc)
            return self._failed(row, ctx, exc, StateChangeReason.FAILED, retry=retry)
        log.debug("job %s (%s) succeeded in %.3fs", row.id, row.job, time.monotonic() - started)
        return self._completion(
            row, ctx, JobState.SUCCEEDED, StateChangeReason.COMPLETED, result_json=result_json
        )

    async def _call(
        self,
        definition: JobDefinition[Any, Any],
        row: JobRow,
        ctx: JobContext,
        timeout: float | None,
    ) -> Any:
        args = [ctx, *row.args] if definition.takes_context else list(row.args)
        if definition.is_async:
            coro = definition.func(*args, **row.kwargs)
            if timeout is None:
                # In the job's own task (no task more per job): a cancel reaches it from
                # the producer, repeated until it ends (`cancel_until_done`).
                return await coro
            return await _run_async(coro, timeout)
        loop = asyncio.get_running_loop()
        if definition.cpu_bound and self.processes is not None:
            # Killed on timeout or cancel: the runner ends the child when this is cancelled.
            run = self.processes.run(
                definition.func.__module__,
                definition.name,
                list(row.args),
                row.kwargs,
                identity=astuple(ctx.identity),
                on_progress=ctx.set_progress,
                logging_settings=remote.child_settings(ctx, capture_all=self._capture_all),
                on_log=remote.relay(ctx),
                on_usage=lambda tokens: ctx.report_usage(tokens=tokens),
            )
            return await asyncio.wait_for(run, timeout)
        # The timeout starts when a thread picks the job up, not while it waits for one
        # (a timed-out sync job keeps its thread until it returns).
        started: asyncio.Future[None] = loop.create_future()
        context = contextvars.copy_context()

        def call() -> Any:
            loop.call_soon_threadsafe(_resolve, started)
            return context.run(definition.func, *args, **row.kwargs)

        future = loop.run_in_executor(self.threads, call)
        try:
            await asyncio.wait({started, future}, return_when=asyncio.FIRST_COMPLETED)
            return await asyncio.wait_for(future, timeout)
        except asyncio.CancelledError:
            ctx.request_stop(ctx.stop_reason or STOP_SHUTDOWN)  # let cooperative code stop
            raise

    def _stopped(self, row: JobRow, ctx: JobContext) -> JobCompletion:
        if ctx.stop_reason == STOP_CANCEL:
            return self._completion(row, ctx, JobState.CANCELLED, StateChangeReason.CANCELLED)
        if ctx.stop_reason == STOP_SHUTDOWN:
            return self._completion(
                row, ctx, JobState.ENQUEUED, StateChangeReason.RELEASED, release=True
            )
        raise asyncio.CancelledError

    def _failed(
        self,
        row: JobRow,
        ctx: JobContext,
        exc: BaseException,
        reason: StateChangeReason,
        *,
        retry: bool,
        delay: timedelta | None = None,
    ) -> JobCompletion:
        error = error_dict(exc, time.monotonic() - ctx.started)
        if retry and row.attempt < row.max_attempts:
            delay = self._backoff(row, row.attempt) if delay is None else delay
            log.warning(
                "job %s (%s) attempt %d/%d failed: %s: %s; retrying in %.0fs",
                row.id,
                row.job,
                row.attempt,
                row.max_attempts,
                error["type"],
                error["message"],
                delay.total_seconds(),
                extra=_log_fields(row, self.worker_id),
            )
            return self._completion(
                row,
                ctx,
                JobState.SCHEDULED,
                StateChangeReason.RETRIED if reason is StateChangeReason.FAILED else reason,
                error=error,
                run_at=self.clock() + delay,
            )
        log.error(
            "job %s (%s) failed for good after attempt %d/%d: %s: %s",
            row.id,
            row.job,
            row.attempt,
            row.max_attempts,
            error["type"],
            error["message"],
            extra=_log_fields(row, self.worker_id),
        )
        return self._completion(row, ctx, JobState.FAILED, reason, error=error)

    def _backoff(self, row: JobRow, attempt: int) -> timedelta:
        definition = self.registry.find(row.job)
        if definition is not None and definition.backoff is not None:
            return definition.backoff(attempt)
        return self.retry_policy.delay_for(attempt)

    @staticmethod
    def _completion(
        row: JobRow,
        ctx: JobContext,
        state: JobState,
        reason: StateChangeReason,
        **fields: Any,
    ) -> JobCompletion:
        progress = ctx.last_progress
        fraction: float | None = progress.fraction if progress else None
        message = progress.message if progress else None
        if state is JobState.SUCCEEDED and progress is None:
            fraction = 1.0
        return JobCompletion(
            id=row.id,
            job=row.job,
            queue=row.queue,
            attempt=row.attempt,
            state=state,
            reason=reason,
            progress_fraction=fraction,
            progress_message=message,
            duration=time.monotonic() - ctx.started,
            limit_tokens=ctx.reported_tokens,  # replaces the limit's reservation
            **fields,
        )


async def _run_async(coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
    """Run an async job with a timeout in a task of its own, as `asyncio.wait_for` would,
    but stop it for good: Python 3.11's `wait_for`, which psycopg and many clients wait
    through, loses a cancellation that arrives with the result it waits for (see
    `medley.infrastructure.tasks`), and `wait_for` here cancelled the job once, so a
    user's cancel or a timeout could leave the job running to its end. A timed-out job
    that still returns a result while it is being stopped keeps it, as with `wait_for`;
    a cancel that comes in the tick the job ends wins."""
    task = asyncio.ensure_future(coro)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        await tasks.cancel_job_and_wait(task)
        raise
    if not done:
        await tasks.cancel_job_and_wait(task)
        if task.cancelled():
            raise TimeoutError
    return task.result()
