"""The fetch loop: claim at most as many jobs as there are free slots, run them, and
sleep until woken (NOTIFY, a local enqueue, a freed slot) or the poll interval passes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from medley.application.errors import StorageError
from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.context import JobContext
from medley.infrastructure.jobs.runtime.completer import BatchCompleter
from medley.infrastructure.jobs.runtime.executor import STOP_CANCEL, STOP_SHUTDOWN, JobExecutor
from medley.infrastructure.jobs.runtime.queues import QueueMode, QueueOrder, QueueSlots
from medley.infrastructure.jobs.runtime.throttle import Throttle
from medley.infrastructure.jobs.storage.port import JobCompletion, JobFetchParams, JobRow, JobStore

log = logging.getLogger("medley.worker")

FETCH_BATCH_MAX = 200


@dataclass(frozen=True, slots=True)
class ProducerConfig:
    queues: Sequence[str]
    concurrency: int
    poll_seconds: float
    queue_slots: Mapping[str, int] = field(default_factory=dict)
    """Per-queue caps on running jobs (queues not named share the total only)."""
    queue_weights: Mapping[str, int] = field(default_factory=dict)
    queue_mode: QueueMode = "strict"

    def __post_init__(self) -> None:
        if not self.queues:
            raise ValueError("a worker needs at least one queue")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")


class Producer:
    """Owns the running jobs of one worker process."""

    def __init__(
        self,
        store: JobStore,
        executor: JobExecutor,
        completer: BatchCompleter,
        config: ProducerConfig,
        *,
        worker_id: str,
        on_job_started: Callable[[JobRow], None] | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.completer = completer
        self.config = config
        self.worker_id = worker_id
        self.on_job_started = on_job_started
        self.running: dict[int, tuple[asyncio.Task[None], JobContext]] = {}
        self.slots = QueueSlots(config.queues, config.queue_slots, config.concurrency)
        self.order = QueueOrder(config.queues, config.queue_weights, config.queue_mode)
        self.throttle = throttle
        self._wake = asyncio.Event()
        self._fetch_lock = asyncio.Lock()
        self._stopping = False
        self._saturated = False
        self._maybe_more = False
        self.fetches = 0
        self.last_fetch_empty = False
        self.last_fetch_skipped = False
        """The last fetch asked no queue (no free slot, stopping or throttled): finding
        nothing then proves nothing about the queues."""

    @property
    def free_slots(self) -> int:
        return self.config.concurrency - len(self.running)

    @property
    def throttled(self) -> bool:
        """Fetching is paused for resource pressure (see `throttle.py`)."""
        return self.throttle is not None and self.throttle.check() is not None

    def wake(self) -> None:
        self._wake.set()

    async def fetch_once(self) -> int:
        """Claim and start up to `free_slots` jobs, queue by queue in priority order, each
        queue up to its own free slots; nothing while throttled. Serialised, so that
        concurrent callers never claim more than the free slots."""
        async with self._fetch_lock:
            return await self._fetch_unlocked()

    async def _fetch_unlocked(self) -> int:
        started = 0
        self._maybe_more = False
        # The order is taken only when something can start, so that weighted turns are
        # spent on real fetches.
        can_start = self.free_slots > 0 and not self._stopping and not self.throttled
        self.last_fetch_skipped = not can_start
        for queue in self.order.next() if can_start else []:
            if self.free_slots <= 0 or self._stopping:
                break
            free = min(self.slots.free(queue), FETCH_BATCH_MAX)
            if free <= 0:
                continue  # this queue is at its own cap; the others may still run
            rows = await self.store.job_fetch_available(
                JobFetchParams(queue=queue, limit=free, worker_id=self.worker_id)
            )
            self.fetches += 1
            for row in rows:
                self._start(row)
            started += len(rows)
            if len(rows) == free:
                self._maybe_more = True
                # It may hold more; unless its own cap stopped it, refill from it first
                # next time rather than letting a lower queue in.
                if self.slots.free(queue) == self.free_slots:
                    break
        self._saturated = self.free_slots <= 0
        self.last_fetch_empty = started == 0
        return started

    async def run(self) -> None:
        delay = 0.05
        while not self._stopping:
            self._wake.clear()
            if self.free_slots > 0 and not self.throttled:
                try:
                    started = await self.fetch_once()
                    delay = 0.05
                except StorageError as exc:
                    log.warning("fetching jobs failed (%s); retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                if started and self._maybe_more:
                    continue  # a queue filled the whole batch: there may be more
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._idle_seconds())
            await asyncio.sleep(0)  # let jobs finishing in this same tick free their slots

    def _idle_seconds(self) -> float:
        """A throttled worker looks again at the next sample, not the next poll; jobs held
        back by a start rate or a 429 block, when they may start (no sooner: no spin)."""
        if self.throttle is not None and self.throttle.throttled:
            return min(self.config.poll_seconds, self.throttle.config.sample_seconds)
        wait = self.limit_wait()
        return self.config.poll_seconds if wait is None else min(wait, self.config.poll_seconds)

    def limit_wait(self) -> float | None:
        """Seconds until a job that a start rate or a 429 block holds back in one of this
        worker's queues may start (None: none is held back by time). Read from what the
        last fetches learned: no query."""
        hints = [h for q in self.config.queues if (h := self.store.limit_wait_hint(q)) is not None]
        return min(hints, default=None)

    def _start(self, row: JobRow) -> None:
        ctx = self.executor.context_for(row)
        task = asyncio.create_task(self._run_job(row, ctx), name=f"medley-job-{row.id}")
        self.running[row.id] = (task, ctx)
        self.slots.take(row.queue)
        task.add_done_callback(functools.partial(self._reap_unstarted, row, ctx))
        if self.on_job_started is not None:
            self.on_job_started(row)

    async def _run_job(self, row: JobRow, ctx: JobContext) -> None:
        try:
            completion = await self.executor.execute(row, ctx)
        except asyncio.CancelledError:
            completion = _given_back(row)  # checkpoint: stopped without an outcome
        finally:
            self.running.pop(row.id, None)
            if self.slots.give_back(row.queue) or self._saturated or self._stopping:
                self._wake.set()
        self.completer.submit(completion)

    def _reap_unstarted(self, row: JobRow, ctx: JobContext, task: asyncio.Task[None]) -> None:
        """A job task cancelled before its first step (a cancel or a shutdown that came
        between the claim and the task's start) never ran `_run_job`, not even its
        `finally`: do its bookkeeping here, or the job would hold its slot and stay
        `processing` under this live worker for good."""
        entry = self.running.get(row.id)
        if entry is None or entry[0] is not task:
            return  # it ran: `_run_job` cleaned up
        self.running.pop(row.id, None)
        self.slots.give_back(row.queue)
        self._wake.set()
        if ctx.stop_reason != STOP_CANCEL:
            self.completer.submit(_given_back(row))
            return
        self.completer.submit(
            JobCompletion(
                id=row.id,
                attempt=row.attempt,
                state=JobState.CANCELLED,
                reason=StateChangeReason.CANCELLED,
                job=row.job,
                queue=row.queue,
            )
        )

    @contextlib.asynccontextmanager
    async def no_fetch_in_flight(self) -> AsyncIterator[None]:
        """While inside, no claim is between its commit and `running`: what the database
        says this worker holds can be compared with what it runs."""
        async with self._fetch_lock:
            yield

    def request_cancel(self, job_id: int) -> bool:
        """Stop a running job for a user's cancel. False if this worker doesn't run it."""
        entry = self.running.get(job_id)
        if entry is None:
            return False
        task, ctx = entry
        if ctx.stop_reason == STOP_CANCEL:
            return True  # already stopping: a second cancel would interrupt its cleanup
        ctx.request_stop(STOP_CANCEL)
        task.cancel()
        return True

    async def stop(self, grace: float) -> None:
        """Stop fetching; give running jobs `grace` seconds, then release the rest."""
        self._stopping = True
        self._wake.set()
        async with self._fetch_lock:  # jobs of a fetch in flight are started (and waited for)
            pass
        tasks = [task for task, _ in self.running.values()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task, ctx in list(self.running.values()):
                if task in pending:
                    ctx.request_stop(STOP_SHUTDOWN)
                    task.cancel()
            if pending:
                log.warning("released %d running jobs back to the queue", len(pending))
                await asyncio.wait(pending, timeout=5)


def _given_back(row: JobRow) -> JobCompletion:
    """The outcome of an attempt stopped before it had one: back to the queue, unspent."""
    return JobCompletion(
        id=row.id,
        attempt=row.attempt,
        state=JobState.ENQUEUED,
        reason=StateChangeReason.RELEASED,
        release=True,
        job=row.job,
        queue=row.queue,
    )
