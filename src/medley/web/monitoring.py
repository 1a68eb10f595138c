"""The dashboard's and the API's read model, built from the store's monitoring queries
(maintained counters, a skip scan of the fetch index, the server table). Nothing here
counts rows of the job table, so every figure costs the same at ten or ten million jobs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.storage.port import JobStore, ServerRow

THROUGHPUT_MINUTES = 60
STATE_ORDER = (
    JobState.ENQUEUED,
    JobState.SCHEDULED,
    JobState.PROCESSING,
    JobState.AWAITING,
    JobState.SUCCEEDED,
    JobState.FAILED,
    JobState.CANCELLED,
)


@dataclass(frozen=True, slots=True)
class QueueView:
    name: str
    paused: bool
    counts: dict[JobState, int]
    oldest_due_age_seconds: float | None
    """How long the longest-waiting runnable job has been due; None when none is."""

    @property
    def depth(self) -> int:
        return self.counts.get(JobState.ENQUEUED, 0)


@dataclass(frozen=True, slots=True)
class ServerView:
    row: ServerRow
    heartbeat_age_seconds: float
    alive: bool


@dataclass(frozen=True, slots=True)
class MinuteView:
    minute: datetime
    succeeded: int
    failed: int


@dataclass(frozen=True, slots=True)
class Overview:
    counts: dict[JobState, int]
    queues: list[QueueView]
    servers: list[ServerView]
    throughput: list[MinuteView] = field(default_factory=list)

    @property
    def servers_alive(self) -> int:
        return sum(1 for s in self.servers if s.alive)


class Monitor:
    """Reads the monitoring model. `lease_seconds` decides when a server counts as dead."""

    def __init__(self, store: JobStore, *, lease_seconds: float) -> None:
        self.store = store
        self.lease_seconds = lease_seconds

    async def counts(self) -> dict[JobState, int]:
        totals = dict.fromkeys(STATE_ORDER, 0)
        for row in await self.store.stat_count_by_state():
            totals[row.state] += row.count
        return totals

    async def queues(self) -> list[QueueView]:
        counts: dict[str, dict[JobState, int]] = defaultdict(dict)
        for row in await self.store.stat_count_by_state():
            counts[row.queue][row.state] = row.count
        paused = {q.name: q.paused for q in await self.store.queue_list()}
        now = datetime.now(UTC)
        heads = {h.queue: h.oldest_due_at for h in await self.store.stat_queue_heads()}
        served = {q for s in await self.store.server_list() for q in s.queues}
        names = sorted(set(counts) | set(paused) | set(heads) | served)
        return [
            QueueView(
                name=name,
                paused=paused.get(name, False),
                counts=counts.get(name, {}),
                oldest_due_age_seconds=_age(now, heads.get(name)),
            )
            for name in names
        ]

    async def servers(self) -> list[ServerView]:
        now = datetime.now(UTC)
        views = []
        for row in await self.store.server_list():
            age = max((now - row.heartbeat_at).total_seconds(), 0.0)
            views.append(ServerView(row, age, age < self.lease_seconds))
        return views

    async def throughput(self, minutes: int = THROUGHPUT_MINUTES) -> list[MinuteView]:
        """Succeeded and failed per minute for the last `minutes`, zeros included."""
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        start = now - timedelta(minutes=minutes - 1)
        buckets = {start + timedelta(minutes=i): [0, 0] for i in range(minutes)}
        for row in await self.store.stat_throughput(start):
            bucket = buckets.get(row.minute.astimezone(UTC))
            if bucket is not None:
                bucket[0 if row.state is JobState.SUCCEEDED else 1] += row.count
        return [MinuteView(m, s, f) for m, (s, f) in buckets.items()]

    async def overview(self) -> Overview:
        queues = await self.queues()
        counts = dict.fromkeys(STATE_ORDER, 0)
        for queue in queues:
            for state, count in queue.counts.items():
                counts[state] += count
        return Overview(counts, queues, await self.servers(), await self.throughput())


def _age(now: datetime, at: datetime | None) -> float | None:
    return None if at is None else max((now - at).total_seconds(), 0.0)
