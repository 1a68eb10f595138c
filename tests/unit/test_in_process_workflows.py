"""`InProcessJobService` keeps the workflow contract of the engine, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import medley
from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.registry import JobRegistry

pytestmark = pytest.mark.unit

registry = JobRegistry()


@medley.job(name="ipw.add", registry=registry)
async def add(a: int, b: int) -> int:
    return a + b


@medley.job(name="ipw.fail", max_attempts=1, registry=registry)
async def fail() -> None:
    raise RuntimeError("no")


@medley.job(name="ipw.done", registry=registry)
def done(batch: dict[str, Any]) -> dict[str, Any]:
    return batch


def test_both_services_implement_the_protocol() -> None:
    engine: medley.BackgroundJobService = medley.connect("sqlite:///unused.db")
    memory: medley.BackgroundJobService = medley.InProcessJobService(registry)

    assert isinstance(engine, medley.BackgroundJobService)
    assert isinstance(memory, medley.BackgroundJobService)


async def test_continuations_wait_then_run_or_are_cancelled_transitively() -> None:
    jobs = medley.InProcessJobService(registry, eager=False)
    ok = await jobs.enqueue(add, 1, 2)
    bad = await jobs.enqueue(fail)
    after_ok = await jobs.enqueue_with(add, 3, 4, options=medley.JobOptions(depends_on=(ok,)))
    after_bad = await jobs.enqueue_with(add, 0, 0, options=medley.JobOptions(depends_on=(bad,)))
    below = await jobs.enqueue_with(add, 0, 0, options=medley.JobOptions(depends_on=(after_bad,)))
    anyway = await jobs.enqueue_with(
        add, 5, 5, options=medley.JobOptions(depends_on=(after_bad,), continue_on="any")
    )
    assert (await jobs.get(after_ok)).state is JobState.AWAITING

    await jobs.run_pending()

    assert (await jobs.get(after_ok)).result == 7
    assert (await jobs.get(after_bad)).state is JobState.CANCELLED
    assert (await jobs.get(below)).state is JobState.CANCELLED
    assert (await jobs.get(anyway)).result == 10
    with pytest.raises(medley.InvalidArgumentsError):
        await jobs.enqueue_with(add, 1, 1, options=medley.JobOptions(depends_on=(999,)))


async def test_a_batch_releases_its_callbacks_once_with_the_summary() -> None:
    jobs = medley.InProcessJobService(registry)
    request = medley.BatchRequest(
        jobs=(
            medley.EnqueueRequest(job="ipw.add", args=(1, 1)),
            medley.EnqueueRequest(job="ipw.fail"),
        ),
        on_complete=medley.EnqueueRequest(job="ipw.done"),
        on_success=medley.EnqueueRequest(job="ipw.done"),
    )

    result = await jobs.submit_batch(request)
    info = await jobs.wait_batch(result.id)

    assert (info.total, info.succeeded, info.failed, info.is_finished) == (2, 1, 1, True)
    complete = await jobs.get(result.on_complete_id or 0)
    assert complete.result == {
        "id": result.id,
        "total": 2,
        "succeeded": 1,
        "failed": 1,
        "cancelled": 0,
    }
    assert (await jobs.get(result.on_success_id or 0)).state is JobState.CANCELLED
    with pytest.raises(medley.BatchClosedError):
        await jobs.batch_add(result.id, [medley.EnqueueRequest(job="ipw.add", args=(1, 1))])


async def test_recurring_jobs_fire_by_schedule_and_on_trigger() -> None:
    jobs = medley.InProcessJobService(registry, eager=False)
    spec = medley.RecurringJob(name="hourly", job="ipw.add", cron="@hourly", args=(1, 1))
    added = await jobs.recurring_add(spec)

    fired = await jobs.run_due_recurring(added.next_run_at + timedelta(hours=2, minutes=30))
    triggered = await jobs.recurring_trigger("hourly")
    await jobs.recurring_pause("hourly")
    paused = await jobs.run_due_recurring(datetime.now(UTC) + timedelta(days=1))

    assert (fired, paused) == (1, 0)  # misfire "once": one run for three missed ticks
    [info] = await jobs.recurring_list()
    assert info.paused
    assert info.last_job_id == triggered.id
    await jobs.recurring_remove("hourly")
    with pytest.raises(medley.RecurringJobNotFoundError):
        await jobs.recurring_get("hourly")
