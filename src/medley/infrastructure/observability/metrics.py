"""Prometheus metrics.

Two kinds, chosen so that many worker processes on many machines add up correctly and a
scrape costs the database almost nothing:

* **Events** (counters, histograms) are counted in the process where they happen: an
  enqueue in the process that enqueued, an outcome in the worker whose write committed, a
  rescue in the leader. Every event is counted exactly once somewhere, so summing a metric
  over all scraped processes is exact. Under `medley worker --processes P` the children
  write to prometheus-client's multiprocess files and the supervisor serves their sum on
  one port. Nothing is written to the database for them: the completion path stays as it
  is.
* **State** (gauges: jobs per queue and state, the oldest waiting job, live workers and
  busy slots) is read from the database at scrape time, from the maintained counters
  (`stat_count_by_state`), a skip scan of the fetch index (`stat_queue_heads`) and the
  small server table: three cheap queries, the same figures from every endpoint
  (aggregate them with `max`, not `sum`).
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.storage.port import (
    InsertedRun,
    JobCompletion,
    JobInsertParams,
    JobInsertResult,
    JobRow,
    JobStore,
    LimitRow,
    QueueHeadRow,
    ServerRow,
    StateCount,
    UniformInserts,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
    300.0, 600.0, 1800.0, 3600.0, 7200.0, float("inf"),
)  # fmt: skip
"""Jobs run from milliseconds to hours."""
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _outcome(c: JobCompletion) -> str | None:
    if c.state is JobState.SUCCEEDED:
        return "succeeded"
    if c.state is JobState.FAILED:
        return "failed"
    if c.state is JobState.CANCELLED:
        return "cancelled"
    if c.state is JobState.SCHEDULED and not c.release and c.error is not None:
        return "retried"
    return None  # given back (shutdown, snooze): not an outcome


class JobMetrics:
    """The counters and histograms of one process (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        labels = ("job", "queue")

        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, labels, registry=self.registry)

        self.enqueued = counter("medley_jobs_enqueued", "Jobs enqueued (new rows).")
        self.succeeded = counter("medley_jobs_succeeded", "Jobs that ended succeeded.")
        self.failed = counter(
            "medley_jobs_failed", "Jobs that ended failed (the dead-letter queue)."
        )
        self.retried = counter("medley_jobs_retried", "Failed attempts that will be retried.")
        self.cancelled = counter("medley_jobs_cancelled", "Jobs that ended cancelled.")
        self.rescued = counter(
            "medley_jobs_rescued", "Jobs taken back from workers that stopped heartbeating."
        )
        self.run_duration = Histogram(
            "medley_job_run_duration_seconds",
            "Run time of attempts, by outcome (succeeded, failed, retried, cancelled).",
            (*labels, "outcome"),
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "medley_job_queue_wait_seconds",
            "Time from runnable (enqueued, or due) to an attempt's start.",
            labels,
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._by_outcome = {
            "succeeded": self.succeeded,
            "failed": self.failed,
            "retried": self.retried,
            "cancelled": self.cancelled,
        }

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """`metric.labels(*labels)`, remembered: the lookup (validation, a lock) cost ~3 us,
        three times per job in a worker. Children are never removed, so it cannot go stale."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def jobs_enqueued(
        self, params: Sequence[JobInsertParams], results: Sequence[JobInsertResult]
    ) -> None:
        if len(params) == 1:  # a single enqueue: no Counter to build
            if not results[0].existing:
                self._child(self.enqueued, params[0].job, params[0].queue).inc()
            return
        if isinstance(params, UniformInserts):  # one job and queue: no row made
            added = (
                len(results)
                if isinstance(results, InsertedRun)
                else sum(not result.existing for result in results)
            )
            if added:
                self._child(self.enqueued, params.first.job, params.first.queue).inc(added)
            return
        # Counted per (job, queue) first: one labelled child lookup per job cost a bulk
        # enqueue a few microseconds per job.
        counts: collections.Counter[tuple[str, str]] = collections.Counter(
            (p.job, p.queue)
            for p, result in zip(params, results, strict=True)
            if not result.existing
        )
        for (job, queue), n in counts.items():
            self._child(self.enqueued, job, queue).inc(n)

    def job_started(self, row: JobRow) -> None:
        if row.started_at is not None:
            wait = (row.started_at - row.run_at).total_seconds()
            self._child(self.queue_wait, row.job, row.queue).observe(max(wait, 0.0))

    def outcomes_written(self, batch: Sequence[JobCompletion], written: set[int]) -> None:
        """After a committed batch: count the outcomes that were written (fenced-off late
        writes were not, and are not counted)."""
        for c in batch:
            outcome = _outcome(c) if c.id in written else None
            if outcome is None or not c.job:
                continue
            self._child(self._by_outcome[outcome], c.job, c.queue).inc()
            if c.duration is not None:
                self._child(self.run_duration, c.job, c.queue, outcome).observe(c.duration)

    def jobs_rescued(self, rows: Sequence[JobRow]) -> None:
        for row in rows:
            self.rescued.labels(row.job, row.queue).inc()
            if row.state is JobState.FAILED:
                self.failed.labels(row.job, row.queue).inc()
            elif row.state is JobState.CANCELLED:
                self.cancelled.labels(row.job, row.queue).inc()

    def job_cancelled(self, job: str, queue: str) -> None:
        self.cancelled.labels(job, queue).inc()


DEFAULT_METRICS = JobMetrics()
"""This process's metrics: what `JobService`, `WorkerServer` and the servers of
`/metrics` use unless given another (tests do)."""


# --- state read from the database at scrape time ---------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    counts: list[StateCount]
    heads: list[QueueHeadRow]
    servers: list[ServerRow]
    limits: list[LimitRow]
    lease_seconds: float
    taken_at: datetime
    duration: float
    """Seconds the queries took."""

    def alive(self) -> list[ServerRow]:
        """Workers whose last heartbeat is within the lease."""
        return [
            s
            for s in self.servers
            if (self.taken_at - s.heartbeat_at).total_seconds() <= self.lease_seconds
        ]

    def queue_ages(self) -> dict[str, float]:
        """Per queue, seconds the longest-waiting runnable job has waited (0: none due)."""
        ages = {c.queue: 0.0 for c in self.counts}
        for head in self.heads:
            due = head.oldest_due_at
            age = (self.taken_at - due).total_seconds() if due is not None else 0.0
            ages[head.queue] = max(age, 0.0)
        return ages


async def take_snapshot(store: JobStore, *, lease_seconds: float) -> ClusterSnapshot:
    """Four cheap queries: maintained counters, the fetch index's queue heads, servers, and
    the (tiny) limits table with its usage counters."""
    started = time.monotonic()
    counts = await store.stat_count_by_state()
    heads = await store.stat_queue_heads()
    servers = await store.server_list()
    limits = await store.limit_list()
    return ClusterSnapshot(
        counts=counts,
        heads=heads,
        servers=servers,
        limits=limits,
        lease_seconds=lease_seconds,
        taken_at=datetime.now(UTC),
        duration=time.monotonic() - started,
    )


def snapshot_families(snapshot: ClusterSnapshot) -> list[Metric]:
    jobs = GaugeMetricFamily(
        "medley_jobs", "Jobs per queue and state (cluster-wide).", labels=["queue", "state"]
    )
    known = {(c.queue, c.state): c.count for c in snapshot.counts}
    for queue in sorted({c.queue for c in snapshot.counts}):
        for state in JobState:  # every state, so a series drops to 0 instead of vanishing
            jobs.add_metric([queue, state.value], known.get((queue, state), 0))
    oldest = GaugeMetricFamily(
        "medley_queue_oldest_job_age_seconds",
        "How long the longest-waiting runnable job of each queue has waited (0: none).",
        labels=["queue"],
    )
    for queue, age in sorted(snapshot.queue_ages().items()):
        oldest.add_metric([queue], age)
    in_use = GaugeMetricFamily(
        "medley_limit_running",
        "Slots of a named limit in use (summed over keys).",
        labels=["limit"],
    )
    capacity = GaugeMetricFamily(
        "medley_limit_max_running", "Capacity of a named limit (per key).", labels=["limit"]
    )
    for row in snapshot.limits:
        in_use.add_metric([row.name], row.running)
        if row.max_running is not None:  # a rate-only limit caps no concurrency
            capacity.add_metric([row.name], row.max_running)
    alive = snapshot.alive()
    families: list[Metric] = [
        jobs,
        oldest,
        in_use,
        capacity,
        *_rate_families(snapshot),
        *_queue_slot_families(alive),
    ]
    busy, slots = sum(s.running for s in alive), sum(s.concurrency for s in alive)
    for name, doc, value in (
        ("medley_workers_alive", "Worker processes heartbeating within the lease.", len(alive)),
        ("medley_worker_slots_busy", "Jobs running on live workers.", busy),
        ("medley_worker_slots", "Job slots of live workers.", slots),
        (
            "medley_workers_throttled",
            "Live worker processes not fetching because memory or CPU crossed a threshold.",
            sum(1 for s in alive if s.throttled),
        ),
        ("medley_metrics_query_seconds", "Time this scrape's queries took.", snapshot.duration),
    ):
        family = GaugeMetricFamily(name, doc)
        family.add_metric([], value)
        families.append(family)
    return families


def _rate_families(snapshot: ClusterSnapshot) -> list[Metric]:
    """Start rates and token budgets, from the row `limit_list` already read (no query of
    its own): the capacity per period and what the buckets hold now (starts or tokens
    taken and not yet refilled, summed over keys), so that `used / capacity` near 1 shows
    a limit that throttles; plus the seconds left of a 429 back-off. A limit without a rate
    (budget) has no series in the rate (token) families, as `medley_limit_max_running`."""
    rate = GaugeMetricFamily(
        "medley_limit_rate", "Starts a named limit allows per period (per key).", labels=["limit"]
    )
    starts_used = GaugeMetricFamily(
        "medley_limit_starts_used",
        "Starts of a named limit not yet refilled in its start buckets (summed over keys).",
        labels=["limit"],
    )
    tokens = GaugeMetricFamily(
        "medley_limit_tokens",
        "Token budget of a named limit per period (per key).",
        labels=["limit"],
    )
    tokens_used = GaugeMetricFamily(
        "medley_limit_tokens_used",
        "Tokens (reserved or reported) not yet refilled in a named limit's budget "
        "(summed over keys).",
        labels=["limit"],
    )
    period = GaugeMetricFamily(
        "medley_limit_period_seconds",
        "The period of a named limit's rate and token budget.",
        labels=["limit"],
    )
    blocked = GaugeMetricFamily(
        "medley_limit_blocked_seconds",
        "Seconds until a named limit blocked by an HTTP 429 starts jobs again (0: not blocked).",
        labels=["limit"],
    )
    for row in snapshot.limits:
        if row.rate is not None:
            rate.add_metric([row.name], row.rate)
            starts_used.add_metric([row.name], row.starts_used)
        if row.tokens is not None:
            tokens.add_metric([row.name], row.tokens)
            tokens_used.add_metric([row.name], row.tokens_used)
        if row.rate is not None or row.tokens is not None:
            period.add_metric([row.name], row.period_seconds)
        until = row.blocked_until
        left = (until - snapshot.taken_at).total_seconds() if until is not None else 0.0
        blocked.add_metric([row.name], max(left, 0.0))
    return [rate, starts_used, tokens, tokens_used, period, blocked]


def _queue_slot_families(alive: Sequence[ServerRow]) -> list[Metric]:
    """Per-queue slots (`--queues ai:4`) from the heartbeats' `slots` (`{"ai": {"busy": 2,
    "max": 4}}`) of live workers, summed: whether a queue is starved of slots or its
    workers idle. A queue without a cap of its own reports the worker's total as its max."""
    busy = GaugeMetricFamily(
        "medley_queue_slots_busy",
        "Jobs running in a queue's own slots, summed over live workers.",
        labels=["queue"],
    )
    most = GaugeMetricFamily(
        "medley_queue_slots_max",
        "A queue's own slots (its per-worker cap), summed over live workers.",
        labels=["queue"],
    )
    totals: dict[str, list[int]] = {}
    for server in alive:
        for queue, usage in server.slots.items():
            total = totals.setdefault(queue, [0, 0])
            total[0] += int(usage.get("busy", 0))
            total[1] += int(usage.get("max", 0))
    for queue, (used, cap) in sorted(totals.items()):
        busy.add_metric([queue], used)
        most.add_metric([queue], cap)
    return [busy, most]


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def process_collector(metrics: JobMetrics) -> Collector:
    """This process's events; or, where prometheus-client's multiprocess directory is set
    (gunicorn workers, a supervisor's children), the sum over every process writing there."""
    path = os.environ.get(MULTIPROCESS_ENV)
    return multiprocess_collector(path) if path else metrics.registry


def multiprocess_collector(path: str) -> Collector:
    """The events of every process that wrote to prometheus-client's directory `path`,
    summed (dead processes' counts included: counters never go back)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]  # untyped upstream
    return registry


def exposition(events: Collector, snapshot: ClusterSnapshot | None) -> bytes:
    """The Prometheus text format of `events` plus the snapshot's gauges."""
    families = list(events.collect())
    if snapshot is not None:
        families += snapshot_families(snapshot)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)


async def render(store: JobStore, events: Collector, *, lease_seconds: float) -> bytes:
    """A whole scrape: `events` (see `process_collector`) and the cluster state."""
    return exposition(events, await take_snapshot(store, lease_seconds=lease_seconds))
