"""Which job runs where and when: priorities, queues, the concurrency limit, wake-up on
enqueue, and several workers sharing one database."""

from __future__ import annotations

import pytest

import medley
from medley.application.models.jobs import JobState
from tests.integration import jobs
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


async def test_jobs_of_one_queue_run_by_priority_then_age(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    for value, priority in [("low", 200), ("high", 1), ("mid-1", 100), ("mid-2", 100)]:
        await service.enqueue_with(jobs.record, value, options=medley.JobOptions(priority=priority))
    server = await start_worker(concurrency=1)

    await server.run_until_idle(timeout=10)

    assert jobs.calls == ["high", "mid-1", "mid-2", "low"]


async def test_worker_runs_only_the_queues_it_serves(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    ai = await service.enqueue_with(jobs.record, "ai", options=medley.JobOptions(queue="ai"))
    default = await service.enqueue(jobs.record, "default")
    server = await start_worker(queues=("ai",))

    await server.run_until_idle(timeout=10)

    assert jobs.calls == ["ai"]
    assert (await service.get(ai)).state is JobState.SUCCEEDED
    assert (await service.get(default)).state is JobState.ENQUEUED


async def test_worker_never_runs_more_jobs_at_once_than_its_concurrency(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await service.submit_many(
        [medley.EnqueueRequest(job="it.track_concurrency", args=(i,)) for i in range(30)]
    )
    server = await start_worker(concurrency=3)

    await server.run_until_idle(timeout=20)

    assert sorted(jobs.calls) == list(range(30))
    assert jobs.max_running == 3


async def test_idle_worker_with_a_long_poll_interval_starts_a_new_job_at_once(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    # PostgreSQL wakes the worker through NOTIFY; on SQLite the service's own enqueue
    # wakes the in-process worker (the `on_enqueued` hook).
    server = await start_worker(poll_seconds=30)
    await server.run_until_idle(timeout=5)  # its first fetch found nothing; now asleep

    info = await service.wait(await service.enqueue(jobs.noop, 1), timeout=3)

    assert info.state is JobState.SUCCEEDED


async def test_two_workers_on_one_database_run_each_job_exactly_once(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    a = await start_worker(concurrency=10)
    b = await start_worker(concurrency=10)

    await service.submit_many([medley.EnqueueRequest(job="it.noop", args=(i,)) for i in range(300)])
    await a.run_until_idle(timeout=30)
    await b.run_until_idle(timeout=30)

    assert sorted(jobs.calls) == list(range(300))
    page = await service.list(medley.JobFilter(state=JobState.SUCCEEDED), limit=500)
    assert len(page.items) == 300
    assert {info.worker for info in page.items} == {None}
