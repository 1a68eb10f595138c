"""Recurring jobs: definitions by name, the compare-and-set that fires a tick once, and the
leader's scheduler (`run_once()` with an injected clock) on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from medley.application.models.jobs import JobState
from medley.application.models.workflows import Misfire
from medley.infrastructure.jobs.maintenance.recurring import RecurringScheduler
from medley.infrastructure.jobs.recurring import insert_params
from medley.infrastructure.jobs.storage.port import (
    JobListParams,
    JobStore,
    RecurringFireParams,
    RecurringRow,
    RecurringUpsertParams,
)
from tests.support.backends import Backend
from tests.support.jobs import claim, finish

pytestmark = pytest.mark.contract

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def definition(**overrides: Any) -> RecurringUpsertParams:
    values: dict[str, Any] = {
        "name": "nightly",
        "job": "tests.noop",
        "payload_json": ("[1]", '{"k": "v"}'),
        "queue": "default",
        "priority": 100,
        "max_attempts": 3,
        "timeout_seconds": None,
        "tags": ["t"],
        "cron": "0 * * * *",
        "timezone": "UTC",
        "misfire": "once",
        "next_run_at": T0,
    }
    values.update(overrides)
    return RecurringUpsertParams(**values)


async def jobs_of(store: JobStore) -> list[Any]:
    return sorted(await store.job_list(JobListParams(limit=500)), key=lambda r: r.id)


async def test_upsert_creates_then_redefines_keeping_the_schedule(store: JobStore) -> None:
    created = await store.recurring_upsert(definition())
    assert (created.job, created.args, created.kwargs, created.paused) == (
        "tests.noop",
        [1],
        {"k": "v"},
        False,
    )
    assert created.next_run_at == T0

    same_cron = await store.recurring_upsert(
        definition(job="tests.other", next_run_at=T0 + timedelta(days=1))
    )
    new_cron = await store.recurring_upsert(
        definition(cron="30 * * * *", next_run_at=T0 + timedelta(minutes=30))
    )

    assert (same_cron.job, same_cron.next_run_at) == ("tests.other", T0)
    assert new_cron.next_run_at == T0 + timedelta(minutes=30)
    assert [r.name for r in await store.recurring_list()] == ["nightly"]


async def test_a_pause_survives_redefinition_and_resume_moves_the_tick(store: JobStore) -> None:
    await store.recurring_upsert(definition())
    paused = await store.recurring_set_paused("nightly", True)
    redefined = await store.recurring_upsert(definition(job="tests.other"))
    resumed = await store.recurring_set_paused("nightly", False, T0 + timedelta(hours=5))

    assert paused is not None
    assert paused.paused
    assert redefined.paused
    assert resumed is not None
    assert not resumed.paused
    assert resumed.next_run_at == T0 + timedelta(hours=5)
    assert await store.recurring_set_paused("missing", True) is None


async def test_list_due_returns_unpaused_jobs_whose_tick_has_come(store: JobStore) -> None:
    await store.recurring_upsert(definition(name="due"))
    await store.recurring_upsert(definition(name="later", next_run_at=T0 + timedelta(hours=1)))
    await store.recurring_upsert(definition(name="paused"))
    await store.recurring_set_paused("paused", True)

    due = await store.recurring_list_due(T0, 10)

    assert [r.name for r in due] == ["due"]


async def test_fire_is_a_compare_and_set_on_the_next_tick(store: JobStore) -> None:
    row = await store.recurring_upsert(definition())
    fire = RecurringFireParams(
        name="nightly",
        jobs=[insert_params(row, T0)],
        last_run_at=T0,
        expected_next_run_at=T0,
        next_run_at=T0 + timedelta(hours=1),
    )

    first, second = await asyncio.gather(store.recurring_fire(fire), store.recurring_fire(fire))

    assert sorted([first is None, second is None]) == [False, True]
    [job] = await jobs_of(store)
    assert (job.job, job.args, job.kwargs, job.state) == (
        "tests.noop",
        [1],
        {"k": "v"},
        JobState.ENQUEUED,
    )
    assert "recurring:nightly" in job.tags
    stored = await store.recurring_get("nightly")
    assert stored is not None
    assert (stored.next_run_at, stored.last_run_at, stored.last_job_id) == (
        T0 + timedelta(hours=1),
        T0,
        job.id,
    )
    assert stored.last_job_state is JobState.ENQUEUED


async def test_a_manual_trigger_leaves_the_schedule_alone(store: JobStore) -> None:
    row = await store.recurring_upsert(definition())
    await store.recurring_set_paused("nightly", True)

    fired = await store.recurring_fire(
        RecurringFireParams(name="nightly", jobs=[insert_params(row, T0)], last_run_at=T0)
    )

    assert fired is not None
    assert len(fired) == 1
    stored = await store.recurring_get("nightly")
    assert stored is not None
    assert stored.next_run_at == T0
    assert stored.last_job_id == fired[0].id
    assert (
        await store.recurring_fire(RecurringFireParams(name="missing", jobs=[], last_run_at=T0))
        is None
    )


async def test_delete_removes_the_definition_but_not_its_jobs(store: JobStore) -> None:
    row = await store.recurring_upsert(definition())
    await store.recurring_fire(
        RecurringFireParams(name="nightly", jobs=[insert_params(row, T0)], last_run_at=T0)
    )

    assert await store.recurring_delete("nightly")
    assert not await store.recurring_delete("nightly")
    assert await store.recurring_get("nightly") is None
    assert len(await jobs_of(store)) == 1


async def test_last_state_follows_the_last_job(store: JobStore) -> None:
    row = await store.recurring_upsert(definition())
    await store.recurring_fire(
        RecurringFireParams(name="nightly", jobs=[insert_params(row, T0)], last_run_at=T0)
    )
    await finish(store, await claim(store), JobState.FAILED)

    [listed] = await store.recurring_list()

    assert listed.last_job_state is JobState.FAILED


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_three_schedulers_racing_fire_each_tick_exactly_once(
    store: JobStore, backend: Backend
) -> None:
    await store.recurring_upsert(definition(cron="* * * * * *", next_run_at=T0))
    clock = Clock(T0)
    others = [await backend.open_store(), await backend.open_store()]
    schedulers = [RecurringScheduler(s, clock=clock) for s in [store, *others]]

    for _ in range(10):
        await asyncio.gather(*(s.run_once() for s in schedulers))
        clock.now += timedelta(seconds=1)

    ticks = [job.run_at for job in await jobs_of(store)]
    assert sorted(ticks) == [T0 + timedelta(seconds=i) for i in range(10)]


async def scheduled_after_downtime(store: JobStore, misfire: Misfire) -> list[datetime]:
    """An hourly job whose last tick was 5 h before now (workers were down)."""
    await store.recurring_upsert(definition(misfire=misfire.value, next_run_at=T0))
    clock = Clock(T0 + timedelta(hours=5, minutes=30))
    result = await RecurringScheduler(store, clock=clock).run_once()
    row: RecurringRow | None = await store.recurring_get("nightly")
    assert row is not None
    assert row.next_run_at == T0 + timedelta(hours=6)
    assert result.fired == len(await jobs_of(store))
    return [job.run_at for job in await jobs_of(store)]


async def test_misfire_once_runs_one_job_for_all_missed_ticks(store: JobStore) -> None:
    assert await scheduled_after_downtime(store, Misfire.ONCE) == [T0 + timedelta(hours=5)]


async def test_misfire_all_runs_every_missed_tick(store: JobStore) -> None:
    ticks = await scheduled_after_downtime(store, Misfire.ALL)

    assert ticks == [T0 + timedelta(hours=h) for h in range(6)]


async def test_misfire_skip_drops_the_missed_ticks(store: JobStore) -> None:
    assert await scheduled_after_downtime(store, Misfire.SKIP) == []


async def test_a_paused_recurring_job_does_not_fire(store: JobStore) -> None:
    await store.recurring_upsert(definition())
    await store.recurring_set_paused("nightly", True)

    result = await RecurringScheduler(store, clock=Clock(T0 + timedelta(hours=2))).run_once()

    assert result.fired == 0
    assert await jobs_of(store) == []


async def test_next_due_is_the_earliest_tick_of_an_unpaused_job(store: JobStore) -> None:
    assert await store.recurring_next_due() is None
    await store.recurring_upsert(definition(name="paused", next_run_at=T0))
    await store.recurring_set_paused("paused", True)
    assert await store.recurring_next_due() is None

    await store.recurring_upsert(definition(name="later", next_run_at=T0 + timedelta(hours=2)))
    await store.recurring_upsert(definition(name="sooner", next_run_at=T0 + timedelta(hours=1)))

    assert await store.recurring_next_due() == T0 + timedelta(hours=1)


class CountingStore:
    """The store, counting the scheduler's due-list queries."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.due_queries = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def recurring_list_due(self, now: datetime, limit: int) -> list[Any]:
        self.due_queries += 1
        return await self.store.recurring_list_due(now, limit)


async def test_the_scheduler_sleeps_until_the_next_tick_and_fires_it_then(
    store: JobStore,
) -> None:
    counting = CountingStore(store)
    clock = Clock(T0)
    scheduler = RecurringScheduler(counting, clock=clock, interval=1.0)

    assert await scheduler.run_pass() == 10.0  # nothing defined: look again in 10 intervals
    await store.recurring_upsert(definition(next_run_at=T0 + timedelta(seconds=4)))
    assert await scheduler.run_pass() == pytest.approx(4.0)  # asleep until the tick
    assert counting.due_queries == 0
    assert await jobs_of(store) == []

    clock.now = T0 + timedelta(seconds=4)
    assert await scheduler.run_pass() == 1.0
    assert counting.due_queries == 1
    assert [job.run_at for job in await jobs_of(store)] == [T0 + timedelta(seconds=4)]
