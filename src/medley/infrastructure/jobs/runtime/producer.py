"""The fetch loop: claim at most as many jobs as there are free slots, run them, and
sleep until woken (NOTIFY, a local enqueue, a freed slot) or the poll interval passes.

While this worker's jobs are short, it also claims jobs *ahead* (prefetch): they wait in
memory, already claimed, and start the moment a slot frees, with no round trip between
one job's end and the next one's start; the next claim is in flight while jobs run, and
each claim and each batch of outcomes covers more jobs (a drain of no-op jobs: ~9,500 ->
~12,500 jobs/s when up to 150 rather than 20 were held). Bounds, so that claiming ahead
never hoards work another worker could do: no more jobs than this worker starts within
`AHEAD_HORIZON_SECONDS` at its recent pace, at most `prefetch` (default
`PREFETCH_DEFAULT` for a worker of one queue, the concurrency for one of several: held
jobs start before any other queue's, so more would bend the order between queues), only
jobs without a named limit (a held job must not hold a limit's slot or start), only
while the recent jobs ran under `AHEAD_SHORT_SECONDS`, and a job held longer than
`AHEAD_HOLD_SECONDS` is given back to the queue. A held job is `processing` under this
worker (its `started_at` is the claim); it can be cancelled, and a shutdown gives it
back like a job that never started."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from medley.application.errors import StorageError
from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure import tasks
from medley.infrastructure.jobs.context import JobContext
from medley.infrastructure.jobs.runtime.completer import BatchCompleter
from medley.infrastructure.jobs.runtime.executor import STOP_CANCEL, STOP_SHUTDOWN, JobExecutor
from medley.infrastructure.jobs.runtime.queues import QueueMode, QueueOrder, QueueSlots
from medley.infrastructure.jobs.runtime.throttle import Throttle
from medley.infrastructure.jobs.storage.port import JobCompletion, JobFetchParams, JobRow, JobStore

log = logging.getLogger("medley.worker")

FETCH_BATCH_MAX = 200
PREFETCH_DEFAULT = 150
"""Most jobs a worker of one queue holds ahead unless `prefetch` says otherwise."""
AHEAD_SHORT_SECONDS = 0.25
"""Jobs are claimed ahead only while the average of this worker's recent jobs is shorter."""
AHEAD_HORIZON_SECONDS = 0.05
"""Jobs held ahead are at most what this worker starts in this time at its recent pace
(concurrency / average duration): 20 slots of 50 ms jobs hold 20, of 1 ms jobs 150."""
AHEAD_HOLD_SECONDS = 1.0
"""A job claimed ahead and not started within this is given back to the queue."""
_DURATION_WEIGHT = 0.2
"""Weight of the newest job in the moving average of job durations."""


@dataclass(frozen=True, slots=True)
class ProducerConfig:
    queues: Sequence[str]
    concurrency: int
    poll_seconds: float
    queue_slots: Mapping[str, int] = field(default_factory=dict)
    """Per-queue caps on running jobs (queues not named share the total only)."""
    queue_weights: Mapping[str, int] = field(default_factory=dict)
    queue_mode: QueueMode = "strict"
    prefetch: int | None = None
    """Most jobs claimed ahead of a free slot (None: `PREFETCH_DEFAULT` with one queue, the
    concurrency with several; 0: never)."""

    def __post_init__(self) -> None:
        if not self.queues:
            raise ValueError("a worker needs at least one queue")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.prefetch is not None and self.prefetch < 0:
            raise ValueError("prefetch must be 0 or more")

    @property
    def prefetch_max(self) -> int:
        if self.prefetch is not None:
            return self.prefetch
        return PREFETCH_DEFAULT if len(self.queues) == 1 else self.concurrency


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
        self._ahead: dict[str, deque[tuple[JobRow, float]]] = {q: deque() for q in config.queues}
        """Per queue, jobs claimed ahead with their claim time, in fetch order."""
        self._ahead_more = False
        """The last claim ahead got all it asked for, or a wake came since: the queue may
        hold more."""
        self._wakes = 0
        self._duration: float | None = None
        """Moving average of job durations (None: no job finished yet)."""
        self.last_fetch_empty = False
        self.last_fetch_skipped = False
        """The last fetch asked no queue (no free slot, stopping or throttled): finding
        nothing then proves nothing about the queues."""

    @property
    def free_slots(self) -> int:
        return self.config.concurrency - len(self.running)

    @property
    def held_ahead(self) -> int:
        """Jobs claimed ahead, not started yet."""
        return sum(map(len, self._ahead.values()))

    def held_ids(self) -> set[int]:
        """Every job this worker holds: running, or claimed ahead."""
        ahead = {row.id for rows in self._ahead.values() for row, _ in rows}
        return set(self.running) | ahead

    def _ahead_limit(self) -> int:
        """How many jobs to hold ahead now: 0 unless recent jobs were short, and no more
        than this worker starts within `AHEAD_HORIZON_SECONDS` at their pace."""
        duration = self._duration
        if duration is None or duration >= AHEAD_SHORT_SECONDS or self._stopping:
            return 0
        pace = self.config.concurrency * AHEAD_HORIZON_SECONDS / max(duration, 1e-6)
        return min(self.config.prefetch_max, max(int(pace), 1))

    def _ahead_room(self) -> int:
        """How many more jobs to claim ahead now."""
        return max(self._ahead_limit() - self.held_ahead, 0)

    def _wants_ahead(self) -> bool:
        """Refill the jobs held ahead once half of them have started, while the queue may
        hold more: the last claim got all it asked for, or new jobs were announced since
        (an empty queue wakes us by NOTIFY, not by each job's end)."""
        if not self._ahead_more:
            return False
        limit = self._ahead_limit()
        return limit > 0 and (limit - self.held_ahead) * 2 >= limit

    @property
    def throttled(self) -> bool:
        """Fetching is paused for resource pressure (see `throttle.py`)."""
        return self.throttle is not None and self.throttle.check() is not None

    def wake(self) -> None:
        """New jobs may be waiting (NOTIFY, a local enqueue, a retry): look, including
        for jobs to claim ahead."""
        self._ahead_more = True
        self._wakes += 1
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
        wakes = self._wakes
        # The order is taken only when something can start, so that weighted turns are
        # spent on real fetches.
        can_start = (
            (self.free_slots > 0 or self._wants_ahead())
            and not self._stopping
            and not self.throttled
        )
        self.last_fetch_skipped = not can_start
        for queue in self.order.next() if can_start else []:
            if self._stopping:
                break
            started += self._start_ahead(queue)
            free = min(self.slots.free(queue), FETCH_BATCH_MAX)
            ahead = min(self._ahead_room(), FETCH_BATCH_MAX)
            if queue in self.config.queue_slots:
                # A capped queue holds at most its cap ahead: more could not start sooner.
                ahead = min(ahead, self.slots.caps[queue] - len(self._ahead[queue]))
            ahead = max(ahead, 0)
            if free <= 0 and ahead <= 0:
                continue  # this queue is at its own cap; the others may still run
            rows = await self.store.job_fetch_available(
                JobFetchParams(queue=queue, limit=free, worker_id=self.worker_id, ahead=ahead)
            )
            self.fetches += 1
            # Slots may have freed meanwhile, never been taken: a job's end starts a held
            # job only into the slot it freed (`_start_one_ahead`). So at least the `free`
            # rows claimed within `limit` (the only ones that may carry a limit) start now.
            fits = max(self.slots.free(queue), 0)
            for row in rows[:fits]:
                self._start(row)
            claimed_at = time.monotonic()
            for row in rows[fits:]:
                self._ahead[queue].append((row, claimed_at))
            if ahead > 0:
                # A wake during the claim announced jobs its snapshot may have missed.
                self._ahead_more = len(rows) >= free + ahead or self._wakes != wakes
            started += min(len(rows), fits)
            if len(rows) >= free > 0:
                self._maybe_more = True
                # It may hold more; unless its own cap stopped it, refill from it first
                # next time rather than letting a lower queue in.
                if self.slots.free(queue) == self.free_slots:
                    break
        self._saturated = self.free_slots <= 0
        self.last_fetch_empty = started == 0 and not self.held_ahead
        return started

    def _start_ahead(self, queue: str, most: int | None = None) -> int:
        """Start jobs of `queue` held ahead into its free slots (at most `most`)."""
        held = self._ahead[queue]
        started = 0
        while held and self.slots.free(queue) > 0 and (most is None or started < most):
            row, _ = held.popleft()
            self._start(row)
            started += 1
        return started

    def _start_one_ahead(self) -> None:
        """A job ended: its slot takes the first held job that may use it, in queue order.
        Only that slot: the ones a claim in flight counted on stay free for its rows."""
        for queue in self.config.queues:
            if self._start_ahead(queue, most=1):
                return

    def _give_back_stale(self, *, everything: bool = False) -> float | None:
        """Give back jobs held ahead for longer than `AHEAD_HOLD_SECONDS` (or all of them);
        the seconds until the next one would be stale (None: none held)."""
        now = time.monotonic()
        soonest: float | None = None
        for held in self._ahead.values():
            while held and (everything or now - held[0][1] >= AHEAD_HOLD_SECONDS):
                row, _ = held.popleft()
                self.completer.submit(_given_back(row))
                # The running jobs are not short after all: claim nothing ahead until
                # short jobs bring the average down again, and then a few at first (the
                # pace bound grows as it falls): one short job after long ones must not
                # take a whole `prefetch` that the long ones would hold for another 1 s.
                self._duration = max(self._duration or 0.0, AHEAD_SHORT_SECONDS)
            if held:
                due = held[0][1] + AHEAD_HOLD_SECONDS - now
                soonest = due if soonest is None else min(soonest, due)
        return soonest

    async def run(self) -> None:
        delay = 0.05
        while not self._stopping:
            self._wake.clear()
            if (self.free_slots > 0 or self._wants_ahead()) and not self.throttled:
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
            idle = self._idle_seconds()
            stale = self._give_back_stale()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), idle if stale is None else min(idle, stale)
                )
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
            was_full = self.slots.give_back(row.queue)
            duration = time.monotonic() - ctx.started
            self._duration = (
                duration
                if self._duration is None
                else self._duration + _DURATION_WEIGHT * (duration - self._duration)
            )
            if self.held_ahead and not self._stopping and not self.throttled:
                self._start_one_ahead()  # the freed slot takes a held job: no round trip
            if was_full or self._saturated or self._stopping or self._wants_ahead():
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
        self.completer.submit(_cancelled(row))

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
            return self._cancel_held(job_id)
        task, ctx = entry
        if ctx.stop_reason == STOP_CANCEL:
            return True  # already stopping: a second cancel would interrupt its cleanup
        ctx.request_stop(STOP_CANCEL)
        tasks.cancel_until_done(task)
        return True

    def _cancel_held(self, job_id: int) -> bool:
        """A user's cancel of a job claimed ahead: it never starts."""
        for held in self._ahead.values():
            for entry in held:
                row = entry[0]
                if row.id == job_id:
                    held.remove(entry)
                    self.completer.submit(_cancelled(row))
                    return True
        return False

    async def stop(self, grace: float) -> None:
        """Stop fetching; give running jobs `grace` seconds, then release the rest."""
        self._stopping = True
        self._wake.set()
        async with self._fetch_lock:  # jobs of a fetch in flight are started (and waited for)
            self._give_back_stale(everything=True)  # jobs held ahead never started
        job_tasks = [task for task, _ in self.running.values()]
        if job_tasks:
            _, pending = await asyncio.wait(job_tasks, timeout=grace)
            for task, ctx in list(self.running.values()):
                if task in pending:
                    ctx.request_stop(STOP_SHUTDOWN)
                    tasks.cancel_until_done(task)
            if pending:
                log.warning("released %d running jobs back to the queue", len(pending))
                # Past the repeated cancel (`cancel_until_done`): a job that lost the
                # first one still ends, and its release is written, before we go.
                await asyncio.wait(pending, timeout=tasks.JOB_CANCEL_AGAIN_SECONDS + 1.0)


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


def _cancelled(row: JobRow) -> JobCompletion:
    """The outcome of a user's cancel of an attempt that never started."""
    return JobCompletion(
        id=row.id,
        attempt=row.attempt,
        state=JobState.CANCELLED,
        reason=StateChangeReason.CANCELLED,
        job=row.job,
        queue=row.queue,
    )
