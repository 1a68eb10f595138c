"""Readiness checks: is this deployment able to do its work? Each check is a pure
function from figures to a `HealthCheck`; `check_readiness` reads the figures from the
store within one deadline, so a dead database answers `fail` in `timeout_seconds`, not
after a pool timeout.

Checks: `database` (answers in time), `migrations` (schema current), `workers` (a fresh
heartbeat, when workers are expected), `queue_lag` (the longest-waiting runnable job is
younger than a limit), `dead_letter` (jobs that ended `failed` within a window stay under
a limit).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from medley.application.errors import MedleyError, MigrationRequiredError, StorageError
from medley.application.models.jobs import JobState
from medley.application.models.observability import HealthCheck, HealthReport, HealthStatus
from medley.infrastructure.jobs.storage.port import (
    JobStore,
    QueueHeadRow,
    ServerRow,
    ThroughputRow,
)

T = TypeVar("T")
PASS, FAIL, SKIP = HealthStatus.PASS, HealthStatus.FAIL, HealthStatus.SKIP


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthConfig:
    timeout_seconds: float = 2.0
    """The whole readiness check answers within this."""
    expect_workers: bool = True
    """Fail when no worker heartbeat is fresh."""
    lease_seconds: float = 60.0
    """A heartbeat older than this is not fresh (the worker is dead)."""
    max_queue_age_seconds: float = 600.0
    """Fail when a runnable job has waited longer; 0 disables."""
    max_dead_letter_growth: int = 100
    """Fail when more jobs than this ended `failed` within the window; 0 disables."""
    dead_letter_window_seconds: float = 900.0

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0 or self.lease_seconds <= 0:
            raise ValueError("health timeout and lease must be positive")
        if self.max_queue_age_seconds < 0 or self.max_dead_letter_growth < 0:
            raise ValueError("health limits cannot be negative (0 disables)")
        if self.dead_letter_window_seconds <= 0:
            raise ValueError("the dead-letter window must be positive")


def liveness() -> HealthReport:
    """The process answers: nothing else is checked (a restart would not fix the rest)."""
    return HealthReport.of([HealthCheck(name="process", status=PASS)])


def workers_check(servers: Sequence[ServerRow], now: datetime, config: HealthConfig) -> HealthCheck:
    alive = [s for s in servers if (now - s.heartbeat_at).total_seconds() <= config.lease_seconds]
    if not config.expect_workers:
        return HealthCheck(name="workers", status=SKIP, figure=len(alive), message="not expected")
    if alive:
        return HealthCheck(name="workers", status=PASS, figure=len(alive), limit=1)
    return HealthCheck(
        name="workers",
        status=FAIL,
        figure=0,
        limit=1,
        message=f"no worker heartbeat within {config.lease_seconds:g}s",
    )


def queue_lag_check(
    heads: Sequence[QueueHeadRow], now: datetime, config: HealthConfig
) -> HealthCheck:
    ages = {h.queue: (now - h.oldest_due_at).total_seconds() for h in heads if h.oldest_due_at}
    worst = max(ages, key=lambda q: ages[q], default=None)
    age = round(max(ages[worst], 0.0), 3) if worst is not None else 0.0
    limit = config.max_queue_age_seconds
    if not limit:
        return HealthCheck(name="queue_lag", status=SKIP, figure=age, message="disabled")
    if age <= limit:
        return HealthCheck(name="queue_lag", status=PASS, figure=age, limit=limit)
    return HealthCheck(
        name="queue_lag",
        status=FAIL,
        figure=age,
        limit=limit,
        message=f"a job in queue {worst!r} has waited {age:.0f}s",
    )


def dead_letter_check(rows: Sequence[ThroughputRow], config: HealthConfig) -> HealthCheck:
    grown = sum(r.count for r in rows if r.state is JobState.FAILED)
    limit = config.max_dead_letter_growth
    window = f"{config.dead_letter_window_seconds:g}s"
    if not limit:
        return HealthCheck(name="dead_letter", status=SKIP, figure=grown, message="disabled")
    if grown <= limit:
        return HealthCheck(name="dead_letter", status=PASS, figure=grown, limit=limit)
    return HealthCheck(
        name="dead_letter",
        status=FAIL,
        figure=grown,
        limit=limit,
        message=f"{grown} jobs ended failed in the last {window}",
    )


async def check_readiness(
    store: JobStore, config: HealthConfig, *, now: datetime | None = None, open_store: bool = False
) -> HealthReport:
    """Run every check within `config.timeout_seconds` (opening `store` first if asked:
    `medley health`). Never raises for a storage problem: that is the `database` check
    failing."""
    deadline = time.monotonic() + config.timeout_seconds

    async def within(call: Awaitable[T]) -> T:
        return await asyncio.wait_for(call, max(deadline - time.monotonic(), 0.001))

    started = time.monotonic()
    skipped = [
        HealthCheck(name=name, status=SKIP, message="database unavailable")
        for name in ("migrations", "workers", "queue_lag", "dead_letter")
    ]
    try:
        if open_store:
            await within(store.open())
        await within(store.migration_check())
        migrations = HealthCheck(name="migrations", status=PASS, message="current")
    except MigrationRequiredError as exc:  # reachable, but not migrated (or too new)
        migrations = HealthCheck(name="migrations", status=FAIL, message=str(exc))
    except TimeoutError:
        message = f"no answer within {config.timeout_seconds:g}s"
        return HealthReport.of([_database(FAIL, started, message), *skipped])
    except MedleyError as exc:
        return HealthReport.of([_database(FAIL, started, str(exc)), *skipped])
    checks = [_database(PASS, started, ""), migrations]
    if migrations.status is FAIL:
        return HealthReport.of([*checks, *skipped[1:]])
    try:
        checks += await within(_figures(store, config, now))
    except (TimeoutError, StorageError) as exc:
        message = str(exc) or f"no answer within {config.timeout_seconds:g}s"
        return HealthReport.of([_database(FAIL, started, message), migrations, *skipped[1:]])
    return HealthReport.of(checks)


async def _figures(
    store: JobStore, config: HealthConfig, now: datetime | None
) -> list[HealthCheck]:
    servers = await store.server_list()
    heads = await store.stat_queue_heads()
    moment = now or datetime.now(UTC)
    window = timedelta(seconds=config.dead_letter_window_seconds)
    growth = await store.stat_throughput(moment - window) if config.max_dead_letter_growth else []
    return [
        workers_check(servers, moment, config),
        queue_lag_check(heads, moment, config),
        dead_letter_check(growth, config),
    ]


def _database(status: HealthStatus, started: float, message: str) -> HealthCheck:
    millis = round((time.monotonic() - started) * 1000, 1)
    return HealthCheck(name="database", status=status, figure=millis, message=message)
