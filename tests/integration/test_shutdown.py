"""Graceful shutdown: running jobs get the grace period, then go back to the queue with
their attempt unspent."""

from __future__ import annotations

import pytest

import medley
from medley.application.models.jobs import JobState, StateChangeReason
from tests.integration import jobs
from tests.support.workers import StartWorker, wait_processing

pytestmark = pytest.mark.integration


async def test_job_still_running_after_the_grace_period_is_released_unspent(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    server = await start_worker()
    job_id = await service.enqueue(jobs.sleep, 30)
    await wait_processing(service, job_id)

    await server.stop(grace=0.2)

    info = await service.get(job_id)
    assert info.state is JobState.ENQUEUED
    assert info.attempt == 0, "a released attempt is not spent"
    assert info.worker is None
    assert info.error is None
    last = info.history[-1]
    assert (last.from_state, last.to_state, last.reason, last.worker) == (
        JobState.PROCESSING,
        JobState.ENQUEUED,
        StateChangeReason.RELEASED,
        server.worker_id,
    )
    assert await service.store.server_list() == [], "the stopped worker deregistered"


async def test_released_job_runs_again_on_the_next_worker_as_attempt_one(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    first = await start_worker()
    job_id = await service.enqueue(jobs.block_first_attempt)
    await wait_processing(service, job_id)
    await first.stop(grace=0.1)

    await start_worker()
    # Attempt 1 blocks again: the released attempt was given back, not counted.
    await wait_processing(service, job_id)
    assert (await service.get(job_id)).attempt == 1


async def test_short_job_running_at_stop_finishes_within_the_grace_period(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    server = await start_worker()
    job_id = await service.enqueue(jobs.sleep, 0.3)
    await wait_processing(service, job_id)

    await server.stop(grace=5)

    info = await service.get(job_id)
    assert info.state is JobState.SUCCEEDED
    assert info.result == 0.3
    assert info.attempt == 1
