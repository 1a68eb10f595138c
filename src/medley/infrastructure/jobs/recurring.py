"""Recurring jobs: declaring them in code (`@medley.recurring`), and the pure arithmetic of
which ticks to fire after a pause in service (the misfire policy). No I/O here: the
leader's `RecurringScheduler` and the service call these functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from medley.application.models.jobs import JobOptions, JobState
from medley.application.models.workflows import Misfire, RecurringJob
from medley.infrastructure.jobs.cron import CronSchedule
from medley.infrastructure.jobs.payload import DEFAULT_MAX_PAYLOAD_BYTES, build_insert, encode_json
from medley.infrastructure.jobs.registry import DEFAULT_REGISTRY, JobDefinition, JobRegistry
from medley.infrastructure.jobs.storage.port import (
    JobInsertParams,
    RecurringRow,
    RecurringUpsertParams,
)

MISFIRE_GRACE_DEFAULT = timedelta(seconds=60)
"""A tick fired this late is still on time (a leader change takes up to ~15 s)."""
MISFIRE_ALL_LIMIT = 1000
"""`Misfire.ALL` fires at most this many missed ticks per pass; older ones are dropped."""
RECURRING_TAG_PREFIX = "recurring:"
"""Jobs fired by a recurring job carry the tag `recurring:<name>`."""


def recurring(
    name: str,
    *,
    cron: str,
    timezone: str = "UTC",
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    options: JobOptions | None = None,
    misfire: Misfire | str = Misfire.ONCE,
    registry: JobRegistry | None = None,
) -> Callable[[JobDefinition[Any, Any]], JobDefinition[Any, Any]]:
    """Declare a recurring job in code, on top of `@medley.job`:

        @medley.recurring("nightly-reembed", cron="0 3 * * *", timezone="Europe/Berlin")
        @medley.job(queue="ai")
        async def reembed() -> None: ...

    Every worker upserts the declared recurring jobs (by name) when it starts; the
    schedule is checked here, at import, so a typo fails fast.
    """
    CronSchedule.parse(cron, timezone)

    def declare(definition: JobDefinition[Any, Any]) -> JobDefinition[Any, Any]:
        if not isinstance(definition, JobDefinition):
            raise TypeError("@medley.recurring goes above @medley.job")
        spec = RecurringJob(
            name=name,
            job=definition.name,
            cron=cron,
            timezone=timezone,
            args=tuple(args),
            kwargs=dict(kwargs or {}),
            options=options or JobOptions(),
            misfire=Misfire(misfire),
        )
        (registry or DEFAULT_REGISTRY).register_recurring(spec)
        return definition

    return declare


@dataclass(frozen=True, slots=True)
class FirePlan:
    """What one scheduler pass does for one recurring job."""

    ticks: tuple[datetime, ...]
    """One job per tick, oldest first (empty: nothing to run, just move on)."""
    next_run_at: datetime
    missed: int = 0
    """Due ticks that get no job of their own (dropped, or folded into one run)."""


def plan_fire(
    schedule: CronSchedule,
    due: datetime,
    now: datetime,
    misfire: Misfire,
    *,
    grace: timedelta = MISFIRE_GRACE_DEFAULT,
    limit: int = MISFIRE_ALL_LIMIT,
) -> FirePlan:
    """Which ticks of a recurring job whose next tick `due` is at or before `now` to fire.

    A tick due within `grace` of now is on time and always fires. Older ticks were
    missed: `once` folds them (and the on-time ones) into one run, `skip` drops them, `all`
    runs each, oldest first, at most `limit` per pass: the next tick then stays in the past
    and the following passes work the backlog off. Otherwise the next tick is after now.
    """
    next_run_at = schedule.next_after(now)
    if due > now:
        return FirePlan((), due)
    cutoff = now - grace
    if due >= cutoff or misfire is Misfire.ALL:
        ticks = [due, *schedule.ticks(due, now, limit - 1)]
        if len(ticks) == limit and (after := schedule.next_after(ticks[-1])) <= now:
            return FirePlan(tuple(ticks), after)  # a backlog: more next pass
        return FirePlan(tuple(ticks), next_run_at)
    on_time = schedule.ticks(cutoff - _TINY, now, limit)
    late = [due, *schedule.ticks(due, cutoff - _TINY, limit)]
    if misfire is Misfire.SKIP:
        return FirePlan(tuple(on_time), next_run_at, missed=len(late))
    return FirePlan(((on_time or late)[-1],), next_run_at, missed=len(late) + len(on_time) - 1)


_TINY = timedelta(microseconds=1)


def insert_params(row: RecurringRow, tick: datetime) -> JobInsertParams:
    """The job one tick of `row` enqueues. Its `run_at` is the tick (already due), so that
    older ticks of a catch-up run first and each job shows which tick it stands for."""
    args_json = encode_json(list(row.args), f"arguments of recurring job {row.name!r}")
    kwargs_json = encode_json(row.kwargs, f"arguments of recurring job {row.name!r}")
    tag = f"{RECURRING_TAG_PREFIX}{row.name}"
    return JobInsertParams(
        job=row.job,
        queue=row.queue,
        priority=row.priority,
        state=JobState.ENQUEUED,
        args=list(row.args),
        kwargs=dict(row.kwargs),
        payload_json=(args_json, kwargs_json),
        run_at=tick,
        max_attempts=row.max_attempts,
        timeout_seconds=row.timeout_seconds,
        unique_key=None,
        tags=[*row.tags, tag] if tag not in row.tags else list(row.tags),
    )


def upsert_params(
    spec: RecurringJob,
    definition: JobDefinition[Any, Any],
    now: datetime,
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> RecurringUpsertParams:
    """Validate a declaration (schedule, arguments against the job's signature, options)
    and build its row; raises before anything is written. The first tick is after `now`."""
    schedule = CronSchedule.parse(spec.cron, spec.timezone)
    p = build_insert(
        definition, spec.args, spec.kwargs, spec.options, max_payload_bytes=max_payload_bytes
    )
    return RecurringUpsertParams(
        name=spec.name,
        job=p.job,
        payload_json=p.payload_json,
        queue=p.queue,
        priority=p.priority,
        max_attempts=p.max_attempts,
        timeout_seconds=p.timeout_seconds,
        tags=p.tags,
        cron=schedule.expression,
        timezone=spec.timezone,
        misfire=spec.misfire.value,
        next_run_at=schedule.next_after(now),
    )
