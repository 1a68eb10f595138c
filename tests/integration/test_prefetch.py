"""Claiming ahead (prefetch) on the real worker and PostgreSQL: while jobs are short, a
worker holds up to `prefetch` claimed jobs beyond its free slots and starts each the moment
a slot frees. Held jobs stay this worker's (`processing`), a cancel stops one before it
starts, a shutdown gives them back unspent, one held too long goes back to the queue, and
`prefetch=0` turns it off. SQLite claims nothing ahead (its claim is one statement for
limited and free jobs alike), so these run on PostgreSQL only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import medley
from medley.application.models.jobs import StateChangeReason
from medley.infrastructure.jobs.runtime import producer
from medley.infrastructure.jobs.runtime.server import WorkerServer
from tests.integration import resource_jobs
from tests.integration.jobs import gate
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _postgres_only(backend_name: str) -> None:
    if backend_name != "postgres":
        pytest.skip("SQLite claims no jobs ahead")


@pytest.fixture(autouse=True)
def _patient_holding(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a loaded machine an instant job can take longer than the 0.25 s that counts as
    short (or than the pace that lets two jobs be held), and a held job can outlive its
    1 s hold before a check sees it: either left these tests waiting for jobs that were
    never held or already given back. The test of the hold itself sets its own limit."""
    monkeypatch.setattr(producer, "AHEAD_SHORT_SECONDS", 5.0)
    monkeypatch.setattr(producer, "AHEAD_HORIZON_SECONDS", 50.0)
    monkeypatch.setattr(producer, "AHEAD_HOLD_SECONDS", 30.0)


@pytest.fixture(autouse=True)
def _reset_resource_jobs() -> Iterator[None]:
    resource_jobs.reset()
    yield
    resource_jobs.reset()


async def _short_jobs_ran(service: medley.JobService, worker: WorkerServer, count: int) -> None:
    """Run `count` instant jobs, so the worker has seen that its jobs are short."""
    ids = [await service.enqueue(resource_jobs.hold, "warm", "") for _ in range(count)]
    for job_id in ids:
        assert (await service.wait(job_id, timeout=10)).state is medley.JobState.SUCCEEDED


async def _busy_worker(
    service: medley.JobService, start_worker: StartWorker, **config: object
) -> tuple[WorkerServer, list[int]]:
    """A worker with 2 slots, both taken by jobs waiting on the gate `busy`, after short
    jobs; then 3 more instant jobs enqueued. Returns the worker and those 3 ids."""
    worker = await start_worker(concurrency=2, **config)
    await _short_jobs_ran(service, worker, 4)
    for _ in range(2):
        await service.enqueue(resource_jobs.hold, "busy", "busy")
    await wait_for(lambda: resource_jobs.running["busy"] == 2, timeout=10)
    waiting = [await service.enqueue(resource_jobs.hold, "next", "") for _ in range(3)]
    return worker, waiting


async def _states(service: medley.JobService, ids: list[int]) -> list[medley.JobState]:
    return [(await service.get(job_id)).state for job_id in ids]


async def test_a_busy_worker_holds_up_to_prefetch_jobs_and_starts_them_as_slots_free(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    worker, waiting = await _busy_worker(service, start_worker, prefetch=2)

    await wait_for(lambda: worker.producer.held_ahead == 2, timeout=10)
    states = await _states(service, waiting)
    assert states == [medley.JobState.PROCESSING] * 2 + [medley.JobState.ENQUEUED]
    assert resource_jobs.started.count("next") == 0  # held, not started
    assert len(worker.producer.running) == 2

    gate("busy").set()
    for job_id in waiting:
        info = await service.wait(job_id, timeout=10)
        assert (info.state, info.attempt) == (medley.JobState.SUCCEEDED, 1)
    assert resource_jobs.started.count("next") == 3  # each ran exactly once
    assert worker.producer.held_ahead == 0


async def test_prefetch_zero_claims_nothing_beyond_the_free_slots(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    worker, waiting = await _busy_worker(service, start_worker, prefetch=0)
    # A claim that could take jobs ahead would have done so on this wake-up.
    worker.producer.wake()
    await worker.producer.fetch_once()

    assert worker.producer.held_ahead == 0
    assert await _states(service, waiting) == [medley.JobState.ENQUEUED] * 3
    gate("busy").set()
    for job_id in waiting:
        assert (await service.wait(job_id, timeout=10)).state is medley.JobState.SUCCEEDED


async def test_a_cancelled_held_job_never_starts(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    worker, waiting = await _busy_worker(service, start_worker, prefetch=2)
    await wait_for(lambda: worker.producer.held_ahead == 2, timeout=10)

    await service.cancel(waiting[0])

    info = await service.wait(waiting[0], timeout=10)
    assert info.state is medley.JobState.CANCELLED
    assert worker.producer.held_ahead == 1
    gate("busy").set()
    for job_id in waiting[1:]:
        assert (await service.wait(job_id, timeout=10)).state is medley.JobState.SUCCEEDED
    assert resource_jobs.started.count("next") == 2


async def test_shutdown_gives_held_jobs_back_unspent(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    worker, waiting = await _busy_worker(service, start_worker, prefetch=2)
    await wait_for(lambda: worker.producer.held_ahead == 2, timeout=10)

    gate("busy").set()  # the running jobs finish within the grace period
    worker.producer._stopping = True  # as `stop` does first: no held job may start now
    await worker.stop(grace=5)

    for job_id in waiting[:2]:
        info = await service.get(job_id)
        assert (info.state, info.attempt) == (medley.JobState.ENQUEUED, 0)
        assert info.history[-1].reason is StateChangeReason.RELEASED
    assert resource_jobs.started.count("next") == 0


async def test_a_job_held_too_long_goes_back_to_the_queue_and_is_not_taken_again(
    service: medley.JobService, start_worker: StartWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(producer, "AHEAD_HOLD_SECONDS", 0.8)
    worker, waiting = await _busy_worker(service, start_worker, prefetch=2)

    async def given_back() -> bool:
        """Claimed ahead, held, then released: back in the queue with a RELEASED entry.
        (Watching `held_ahead` instead could miss its 0.8 s window on a loaded machine.)"""
        infos = [await service.get(job_id) for job_id in waiting[:2]]
        return all(
            info.state is medley.JobState.ENQUEUED
            and any(h.reason is StateChangeReason.RELEASED for h in info.history)
            for info in infos
        )

    await wait_for(given_back, timeout=10)
    assert (await service.get(waiting[2])).state is medley.JobState.ENQUEUED
    await worker.producer.fetch_once()  # slots still busy: nothing is claimed ahead again
    assert worker.producer.held_ahead == 0
    assert await _states(service, waiting) == [medley.JobState.ENQUEUED] * 3
    gate("busy").set()
    for job_id in waiting:
        info = await service.wait(job_id, timeout=10)
        assert (info.state, info.attempt) == (medley.JobState.SUCCEEDED, 1)


async def test_a_capped_queue_holds_no_more_jobs_ahead_than_its_cap(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    worker = await start_worker(queues=["default:1"], concurrency=4, prefetch=4)
    await _short_jobs_ran(service, worker, 3)
    await service.enqueue(resource_jobs.hold, "busy", "busy")
    await wait_for(lambda: resource_jobs.running["busy"] == 1, timeout=10)
    waiting = [await service.enqueue(resource_jobs.hold, "next", "") for _ in range(4)]

    await wait_for(lambda: worker.producer.held_ahead == 1, timeout=10)
    worker.producer.wake()
    await worker.producer.fetch_once()

    assert worker.producer.held_ahead == 1  # one slot: more held could not start sooner
    assert (await _states(service, waiting)).count(medley.JobState.ENQUEUED) == 3
    gate("busy").set()
    for job_id in waiting:
        assert (await service.wait(job_id, timeout=10)).state is medley.JobState.SUCCEEDED


async def test_a_worker_holds_no_more_jobs_ahead_than_it_starts_within_the_horizon(
    service: medley.JobService, start_worker: StartWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A horizon too short for even one job at the recent pace: one job is held (the least
    that still saves a round trip), though `prefetch` allows ten and three are waiting."""
    monkeypatch.setattr(producer, "AHEAD_HORIZON_SECONDS", 0.0)
    worker, waiting = await _busy_worker(service, start_worker, prefetch=10)

    await wait_for(lambda: worker.producer.held_ahead == 1, timeout=10)
    worker.producer.wake()
    await worker.producer.fetch_once()

    assert worker.producer.held_ahead == 1
    assert (await _states(service, waiting)).count(medley.JobState.ENQUEUED) == 2
    gate("busy").set()
    for job_id in waiting:
        assert (await service.wait(job_id, timeout=10)).state is medley.JobState.SUCCEEDED
