"""Fire recurring jobs: once per tick, however many servers run. Only the elected leader
runs this service, and even two leaders at once (a term running out mid-pass) cannot
double-fire a tick: each fire is a compare-and-set on the stored next tick
(`recurring_fire`), in the transaction that enqueues the job."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from medley.application.errors import MedleyError
from medley.application.models.workflows import Misfire, RecurringJob
from medley.infrastructure.jobs.cron import CronSchedule
from medley.infrastructure.jobs.recurring import (
    MISFIRE_GRACE_DEFAULT,
    insert_params,
    plan_fire,
    upsert_params,
)
from medley.infrastructure.jobs.registry import JobRegistry
from medley.infrastructure.jobs.runtime.service import BaseService
from medley.infrastructure.jobs.storage.port import (
    JobStore,
    RecurringFireParams,
    RecurringRow,
)

log = logging.getLogger("medley.maintenance")

RECURRING_INTERVAL_DEFAULT = 1.0
"""Seconds between passes: the resolution of 6-field (seconds) schedules."""
RECURRING_IDLE_PASSES = 10
"""With no tick due soon, the scheduler still looks every this many intervals (10 s by
default): a recurring job defined by another process is seen within that time."""
RECURRING_BATCH = 100
"""Recurring jobs handled per pass at most; a backlog is worked off over the next passes."""


@dataclass(frozen=True, slots=True)
class RecurringRunResult:
    fired: int = 0
    """Jobs enqueued by this pass."""
    missed: int = 0
    """Due ticks that got no job of their own (misfire policy)."""
    lost: list[str] = field(default_factory=list)
    """Names whose tick another scheduler fired first (harmless; only during a leader change)."""


class RecurringScheduler(BaseService):
    """Leader-only: enqueue the due ticks of recurring jobs, following each one's misfire
    policy. `clock` is injectable so that tests can drive ticks without waiting."""

    name = "recurring"

    def __init__(
        self,
        store: JobStore,
        *,
        interval: float = RECURRING_INTERVAL_DEFAULT,
        grace: timedelta = MISFIRE_GRACE_DEFAULT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_fired: Callable[[set[str]], None] | None = None,
    ) -> None:
        super().__init__(interval)
        self.store = store
        self.grace = grace
        self.clock = clock
        self.on_fired = on_fired

    async def run_pass(self) -> float:
        """Fire what is due, then sleep until the next tick (at most
        `RECURRING_IDLE_PASSES` intervals): one query per pass while nothing is due, so an
        idle worker costs the database almost nothing for its schedules."""
        longest = self.interval * RECURRING_IDLE_PASSES
        next_due = await self.store.recurring_next_due()
        now = self.clock()
        if next_due is None:
            return longest
        if next_due <= now:
            await self.run_once()
            return self.interval
        return min(max((next_due - now).total_seconds(), 0.01), longest)

    async def run_once(self) -> RecurringRunResult:
        now = self.clock()
        fired = missed = 0
        lost: list[str] = []
        for row in await self.store.recurring_list_due(now, RECURRING_BATCH):
            try:
                count, skipped = await self._fire(row, now)
            except MedleyError as exc:  # one bad definition must not stop the others
                log.error("recurring job %r could not fire: %s", row.name, exc)
                continue
            if count is None:
                lost.append(row.name)
                continue
            fired, missed = fired + count, missed + skipped
        return RecurringRunResult(fired=fired, missed=missed, lost=lost)

    async def _fire(self, row: RecurringRow, now: datetime) -> tuple[int | None, int]:
        schedule = CronSchedule.parse(row.cron, row.timezone)
        plan = plan_fire(schedule, row.next_run_at, now, Misfire(row.misfire), grace=self.grace)
        if plan.missed:
            log.warning(
                "recurring job %r missed %d ticks (misfire policy %s)",
                row.name,
                plan.missed,
                row.misfire,
            )
        results = await self.store.recurring_fire(
            RecurringFireParams(
                name=row.name,
                jobs=[insert_params(row, tick) for tick in plan.ticks],
                last_run_at=plan.ticks[-1] if plan.ticks else now,
                expected_next_run_at=row.next_run_at,
                next_run_at=plan.next_run_at,
            )
        )
        if results is None:
            return None, 0
        if results and self.on_fired is not None:
            self.on_fired({row.queue})
        return len(results), plan.missed


async def register_declared(
    store: JobStore, registry: JobRegistry, specs: Iterable[RecurringJob] | None = None
) -> int:
    """Upsert the recurring jobs declared in code (`@medley.recurring`); each worker does
    this when it starts. Their schedules are kept unless the cron or time zone changed."""
    count = 0
    now = datetime.now(UTC)
    for spec in specs if specs is not None else registry.recurring.values():
        await store.recurring_upsert(upsert_params(spec, registry.get(spec.job), now))
        count += 1
    return count
