"""`WorkerServer`: one worker process's producer, completer, heartbeat and maintenance,
started and stopped together; graceful shutdown loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from medley.application.errors import StorageError
from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.limits import sync_limits
from medley.infrastructure.jobs.maintenance.recurring import (
    RECURRING_INTERVAL_DEFAULT,
    RecurringScheduler,
    register_declared,
)
from medley.infrastructure.jobs.maintenance.rescuer import RESCUER_INTERVAL_DEFAULT, JobRescuer
from medley.infrastructure.jobs.maintenance.retention import (
    RETENTION_INTERVAL_DEFAULT,
    JobRetention,
    RetentionConfig,
)
from medley.infrastructure.jobs.notifications import DEFAULT_NOTIFICATIONS, FailureNotifications
from medley.infrastructure.jobs.registry import DEFAULT_REGISTRY, JobRegistry
from medley.infrastructure.jobs.runtime.completer import BatchCompleter
from medley.infrastructure.jobs.runtime.executor import JobExecutor
from medley.infrastructure.jobs.runtime.heartbeat import Heartbeat
from medley.infrastructure.jobs.runtime.leader import LEADER_INTERVAL_DEFAULT, LeaderElector
from medley.infrastructure.jobs.runtime.process_runner import ProcessRunner
from medley.infrastructure.jobs.runtime.producer import Producer, ProducerConfig
from medley.infrastructure.jobs.runtime.progress import ProgressFlusher
from medley.infrastructure.jobs.runtime.queues import (
    QueueMode,
    QueueSpec,
    format_queue_spec,
    merge_queue_specs,
    total_slots,
)
from medley.infrastructure.jobs.runtime.throttle import Sampler, Throttle, ThrottleConfig
from medley.infrastructure.jobs.storage.port import (
    CHANNEL_CANCEL,
    CHANNEL_JOBS,
    JobCompletion,
    JobRow,
    JobStore,
    Subscription,
)
from medley.infrastructure.observability.joblog import (
    JobLogCollector,
    JobLogConfig,
    JobLogFlusher,
)
from medley.infrastructure.observability.logfilter import (
    install_capture_handler,
    install_log_context,
)
from medley.infrastructure.observability.metrics import DEFAULT_METRICS, JobMetrics
from medley.infrastructure.tasks import cancel_and_wait

log = logging.getLogger("medley.worker")


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfig:
    queues: Sequence[str] = ("default",)
    """Queues in priority order, each `NAME[:SLOTS][@WEIGHT]` (see `runtime/queues.py`);
    normalised to bare names, the caps and weights moving to `queue_slots` and
    `queue_weights`."""
    concurrency: int = 0
    """Jobs at once in this process. 0 (default): the sum of the per-queue caps when
    every queue has one, else 10."""
    queue_slots: Mapping[str, int] = field(default_factory=dict)
    """Most running jobs per queue in this process (merged with caps given in `queues`)."""
    queue_weights: Mapping[str, int] = field(default_factory=dict)
    queue_mode: QueueMode = "strict"
    """`strict`: always ask the first queue first. `weighted`: smooth weighted round-robin
    over the queue weights, so a flooded queue cannot starve the others."""
    prefetch: int | None = None
    """Most jobs claimed ahead of a free slot while jobs are short (None: 150 for one
    queue, the concurrency for several; 0: never). See `runtime/producer.py`."""
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)
    """Resource thresholds beyond which this worker stops fetching (default: none)."""
    child_max_jobs: int | None = None
    """Recycle a `cpu_bound` child process after this many jobs (None: never)."""
    child_max_rss_mb: float | None = None
    """Recycle a `cpu_bound` child process, after its job, once its RSS is above this."""
    poll_seconds: float = 5.0
    heartbeat_seconds: float = 10.0
    lease_seconds: float = 60.0
    shutdown_grace_seconds: float = 30.0
    leader_seconds: float = LEADER_INTERVAL_DEFAULT
    rescuer_seconds: float = RESCUER_INTERVAL_DEFAULT
    retention_seconds: float = RETENTION_INTERVAL_DEFAULT
    recurring_seconds: float = RECURRING_INTERVAL_DEFAULT
    """How often the leader looks for due recurring jobs (the resolution of 6-field crons)."""
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    progress_flush_seconds: float = 0.5
    queue_timeouts: Mapping[str, float] = field(default_factory=dict)
    """Default timeout in seconds per queue, for jobs that set none themselves."""
    cpu_processes: int | None = None
    """Size of the process pool for `cpu_bound` jobs (spawned on first use); None means
    one per CPU, 0 runs them in threads instead."""
    job_logs: JobLogConfig = field(default_factory=JobLogConfig)
    """What of each job's logging is stored with it, and the bounds."""

    def __post_init__(self) -> None:
        if self.lease_seconds <= self.heartbeat_seconds:
            raise ValueError("lease_seconds must be longer than heartbeat_seconds")
        specs = merge_queue_specs(self.queues, self.queue_slots, self.queue_weights)
        # Frozen for callers; normalised once here.
        object.__setattr__(self, "queues", tuple(s.name for s in specs))
        object.__setattr__(self, "queue_slots", {s.name: s.slots for s in specs if s.slots})
        object.__setattr__(self, "queue_weights", {s.name: s.weight for s in specs})
        object.__setattr__(self, "concurrency", total_slots(specs, self.concurrency))

    def queue_specs(self) -> list[QueueSpec]:
        return merge_queue_specs(self.queues, self.queue_slots, self.queue_weights)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WorkerServer:
    """Runs jobs from `store` until stopped. The caller opens and closes the store."""

    def __init__(
        self,
        store: JobStore,
        registry: JobRegistry | None = None,
        config: WorkerConfig | None = None,
        *,
        worker_id: str | None = None,
        on_job_started: Callable[[JobRow], None] | None = None,
        on_outcomes_written: Callable[[list[JobCompletion], set[int]], None] | None = None,
        notifications: FailureNotifications | None = None,
        metrics: JobMetrics | None = None,
        sampler: Sampler | None = None,
    ) -> None:
        """`sampler` reads memory and CPU for throttling (default: psutil); tests inject
        their own to drive pressure deterministically."""
        self.store = store
        self.metrics = metrics or DEFAULT_METRICS
        self.registry = registry or DEFAULT_REGISTRY
        self.config = config or WorkerConfig()
        self.worker_id = worker_id or new_worker_id()
        c = self.config
        self._threads = ThreadPoolExecutor(c.concurrency, thread_name_prefix="medley-job")
        cpu = (os.cpu_count() or 1) if c.cpu_processes is None else c.cpu_processes
        self._processes = (
            ProcessRunner(cpu, max_jobs=c.child_max_jobs, max_rss_mb=c.child_max_rss_mb)
            if cpu
            else None
        )
        self.progress = ProgressFlusher(store, self.worker_id, interval=c.progress_flush_seconds)
        self.notifications = notifications or DEFAULT_NOTIFICATIONS
        test_hook = on_outcomes_written
        self.job_logs = JobLogCollector(c.job_logs)
        self.job_log_flusher = JobLogFlusher(store, self.job_logs)

        def outcomes_written(batch: list[JobCompletion], written: set[int]) -> None:
            now = datetime.now(UTC)
            if any(c.run_at is not None and c.run_at <= now for c in batch):
                self.producer.wake()  # a retry without backoff is runnable right away
            self.notifications.outcomes_written(self.worker_id, batch, written)
            self.metrics.outcomes_written(batch, written)
            if test_hook is not None:
                test_hook(batch, written)

        self.completer = BatchCompleter(store, self.worker_id, on_written=outcomes_written)
        self.executor = JobExecutor(
            self.registry,
            worker_id=self.worker_id,
            threads=self._threads,
            processes=self._processes,
            report_progress=self.progress.report,
            queue_timeouts=c.queue_timeouts,
            job_logs=self.job_logs,
        )
        started_hook = on_job_started

        def job_started(row: JobRow) -> None:
            self.metrics.job_started(row)
            if started_hook is not None:
                started_hook(row)

        self.throttle = Throttle(c.throttle, sampler)
        self.producer = Producer(
            store,
            self.executor,
            self.completer,
            ProducerConfig(
                queues=c.queues,
                concurrency=c.concurrency,
                poll_seconds=c.poll_seconds,
                queue_slots=c.queue_slots,
                queue_weights=c.queue_weights,
                queue_mode=c.queue_mode,
                prefetch=c.prefetch,
            ),
            worker_id=self.worker_id,
            on_job_started=job_started,
            throttle=self.throttle,
        )
        self.heartbeat = Heartbeat(
            store,
            worker_id=self.worker_id,
            queues=c.queues,
            concurrency=c.concurrency,
            interval=c.heartbeat_seconds,
            running=lambda: len(self.producer.running),
            reconcile=self._reconcile,
            slots=self.producer.slots.usage,
            throttle=self.throttle.check,
        )
        self.rescuer = JobRescuer(
            store,
            lease_seconds=c.lease_seconds,
            interval=c.rescuer_seconds,
            on_rescued=self.metrics.jobs_rescued,
        )
        self.retention = JobRetention(store, c.retention, interval=c.retention_seconds)
        self.recurring = RecurringScheduler(
            store, interval=c.recurring_seconds, on_fired=lambda queues: self.wake(queues)
        )
        self.leader = LeaderElector(
            store,
            leader_id=self.worker_id,
            interval=c.leader_seconds,
            services=[self.rescuer, self.retention, self.recurring],
        )
        self._producer_task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._stopped = asyncio.Event()

    async def _register(self) -> None:
        """First heartbeat, retried with backoff: a worker must not die at start because a
        pooled connection was cut a moment ago."""
        delay = 0.05
        while True:
            try:
                await self.heartbeat.run_once()
                return
            except StorageError as exc:
                if self._stopped.is_set():
                    raise
                log.warning("registering worker failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def wake(self, queues: set[str] | None = None) -> None:
        """Fetch now: a job became runnable in one of `queues` (None: any)."""
        if queues is None or not queues.isdisjoint(self.config.queues):
            self.producer.wake()

    def _on_notification(self, channel: str, payload: str) -> None:
        if channel == CHANNEL_JOBS:
            self.wake({payload} if payload else None)
        elif channel == CHANNEL_CANCEL and payload:
            self.producer.request_cancel(int(payload))
        elif channel == CHANNEL_CANCEL:  # listener reconnected: re-check by polling
            self.heartbeat.kick()

    async def _reconcile(self) -> int:
        """Act on what the database says this worker holds: stop jobs a user cancelled, and
        give back claims that never reached `running` (the reply to a committed fetch was
        lost with its connection) so they don't sit in `processing` while we live."""
        async with self.producer.no_fetch_in_flight():
            # Also what was ours before the query: a job claimed ahead may be given back
            # (and its release written) while the query runs; releasing it again later
            # could hit a new claim of it with the same attempt number.
            before = self.producer.held_ids() | self.completer.pending_ids()
            held = await self.store.job_get_held(self.worker_id)
            busy = before | self.producer.held_ids() | self.completer.pending_ids()
        acted = 0
        for job in held:
            if job.id in busy:
                if job.cancel_requested and self.producer.request_cancel(job.id):
                    acted += 1
                continue
            log.warning("job %s is held by this worker but not running: giving it back", job.id)
            self.completer.submit(
                JobCompletion(
                    id=job.id,
                    attempt=job.attempt,
                    state=JobState.ENQUEUED,
                    reason=StateChangeReason.RELEASED,
                    release=True,
                )
            )
            acted += 1
        return acted

    async def start(self) -> None:
        install_log_context()  # the host's handlers gain the job fields, as they are now
        if self.job_logs.config.capture == "all":
            install_capture_handler(self.job_logs.config.level)
        await self._register()
        await register_declared(self.store, self.registry)  # @medley.recurring, by name
        await sync_limits(self.store, self.registry)  # medley.limit(...), unless set at run time
        self._subscription = await self.store.subscribe(self._on_notification)
        self.completer.start()
        self.progress.start()
        self.job_log_flusher.start()
        self.heartbeat.start()
        self.leader.start()
        self._producer_task = asyncio.create_task(self.producer.run(), name="medley-producer")
        log.info(
            "worker %s serving queues %s (%s) with %d slots",
            self.worker_id,
            ",".join(format_queue_spec(s) for s in self.config.queue_specs()),
            self.config.queue_mode,
            self.config.concurrency,
        )

    async def run_until_idle(self, timeout: float | None = None) -> None:
        """Burst mode: return once no runnable job is left for this worker (enqueued, or
        scheduled and due) and none is running or waiting for its outcome to be written."""

        def settled() -> bool:
            return (
                not self.producer.running
                and not self.producer.held_ahead
                and self.completer.backlog == 0
                and not self.producer.throttled  # a paused worker has not drained its queues
            )

        async def idle() -> None:
            while True:
                # An outcome committed while the fetch ran (a due retry, say) may be one
                # the fetch could not see yet: only a fetch that began after the last
                # write and found nothing proves the queue empty.
                # Nor does a fetch skipped for pressure that was gone again a moment later.
                written = self.completer.batches_written
                if (
                    settled()
                    and await self.producer.fetch_once() == 0
                    and not self.producer.last_fetch_skipped
                    and settled()
                    and self.completer.batches_written == written
                ):
                    # Jobs a start rate or a 429 block held back are still runnable: wait
                    # until they may start (no query meanwhile), then look again.
                    held = self.producer.limit_wait()
                    if held is None:
                        return
                    await asyncio.sleep(min(held, self.config.poll_seconds))
                    continue
                await asyncio.sleep(0.01)  # polls in-memory state only; no query per tick

        await asyncio.wait_for(idle(), timeout)

    async def stop(self, grace: float | None = None) -> None:
        """Graceful stop: no new jobs; running ones get `grace` seconds (default from
        config), then go back to the queue; outcomes are flushed; the server row goes."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        grace = self.config.shutdown_grace_seconds if grace is None else grace
        await self.leader.stop()  # a stopping worker must not (re)take maintenance
        await self.producer.stop(grace)
        if self._producer_task is not None:
            with contextlib.suppress(Exception):
                await cancel_and_wait(self._producer_task)
        await self.completer.stop()
        await self.notifications.drain()
        await self.progress.stop()
        await self.job_log_flusher.stop()
        await self.heartbeat.stop()
        if self._subscription is not None:
            await self._subscription.close()
        try:
            await self.store.server_delete(self.worker_id)
        except Exception as exc:  # its row expires and is pruned anyway
            log.warning("could not deregister worker %s: %s", self.worker_id, exc)
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self._processes is not None:
            self._processes.close()
        log.info("worker %s stopped", self.worker_id)
