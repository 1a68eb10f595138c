"""Cancelling jobs: waiting ones at once, running ones within moments."""

from __future__ import annotations

from datetime import timedelta

import pytest

import medley
from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure import tasks
from medley.infrastructure.jobs.runtime.executor import STOP_CANCEL
from medley.infrastructure.jobs.runtime.server import WorkerServer
from tests.integration import jobs
from tests.support.wait import wait_for
from tests.support.workers import StartWorker, wait_processing

pytestmark = pytest.mark.integration


async def _start_cancel_aware_worker(
    service: medley.JobService, start_worker: StartWorker
) -> WorkerServer:
    """A worker that hears of a cancel within moments: PostgreSQL tells it through NOTIFY;
    SQLite's worker finds the flag on its heartbeat, so the heartbeat is made short there."""
    if service.store.capabilities.listen_notify:
        return await start_worker()
    return await start_worker(heartbeat_seconds=0.2, lease_seconds=5)


async def test_cancelled_enqueued_job_is_cancelled_at_once_and_never_runs(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    job_id = await service.enqueue(jobs.record, "must not run")

    cancelled = await service.cancel(job_id)

    assert cancelled.state is JobState.CANCELLED
    assert cancelled.finished_at is not None
    last = cancelled.history[-1]
    assert (last.from_state, last.to_state, last.reason) == (
        JobState.ENQUEUED,
        JobState.CANCELLED,
        StateChangeReason.CANCELLED,
    )
    server = await start_worker()
    await server.run_until_idle(timeout=10)
    assert jobs.calls == []
    assert (await service.get(job_id)).state is JobState.CANCELLED


async def test_cancelled_processing_job_ends_cancelled_within_two_seconds(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    server = await _start_cancel_aware_worker(service, start_worker)
    job_id = await service.enqueue(jobs.sleep, 60)

    await wait_processing(service, job_id)

    requested = await service.cancel(job_id)
    assert requested.cancel_requested or requested.state is JobState.CANCELLED

    info = await service.wait(job_id, timeout=2)
    assert info.state is JobState.CANCELLED
    assert info.finished_at is not None
    last = info.history[-1]
    assert (last.from_state, last.to_state, last.reason, last.worker) == (
        JobState.PROCESSING,
        JobState.CANCELLED,
        StateChangeReason.CANCELLED,
        server.worker_id,
    )
    assert not server.producer.running, "the worker freed the slot"


async def test_a_running_job_that_loses_the_cancel_is_cancelled_again(
    service: medley.JobService, start_worker: StartWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "JOB_CANCEL_AGAIN_SECONDS", 0.3)
    server = await _start_cancel_aware_worker(service, start_worker)
    job_id = await service.enqueue(jobs.stubborn, "a")

    await wait_processing(service, job_id)
    await service.cancel(job_id)

    info = await service.wait(job_id, timeout=5)
    assert info.state is JobState.CANCELLED
    assert jobs.calls == ["a: cancel lost"], "stopped by the second cancel, not finished"
    assert not server.producer.running


async def test_a_job_that_loses_its_timeouts_cancel_still_times_out(
    service: medley.JobService, start_worker: StartWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "JOB_CANCEL_AGAIN_SECONDS", 0.3)
    await start_worker()
    options = medley.JobOptions(timeout=timedelta(seconds=0.2), max_attempts=1)

    job_id = await service.enqueue_with(jobs.stubborn, "b", options=options)
    info = await service.wait(job_id, timeout=5)

    assert info.state is JobState.FAILED
    assert info.error is not None
    assert info.error.type == "TimeoutError"
    assert info.history[-1].reason is StateChangeReason.TIMED_OUT
    assert jobs.calls == ["b: cancel lost"]


async def test_a_cancel_during_a_timed_out_jobs_cleanup_ends_it_cancelled_not_retried(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    server = await _start_cancel_aware_worker(service, start_worker)
    options = medley.JobOptions(timeout=timedelta(seconds=0.2), max_attempts=3)
    job_id = await service.enqueue_with(jobs.slow_cleanup, "c", options=options)

    async def cleaning_up() -> bool:
        return jobs.calls == ["c: cleaning up"]

    await wait_for(cleaning_up, timeout=5, message="the timeout cancelled the job")
    await service.cancel(job_id)

    async def cancel_received() -> bool:
        entry = server.producer.running.get(job_id)
        return entry is not None and entry[1].stop_reason == STOP_CANCEL

    await wait_for(cancel_received, timeout=5, message="the worker got the cancel")
    jobs.gate("c").set()

    info = await service.wait(job_id, timeout=5)
    assert info.state is JobState.CANCELLED, "cancelled, not a timed-out attempt to retry"
    assert info.attempt == 1


async def test_cancelling_a_finished_job_is_refused(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()
    job_id = await service.enqueue(jobs.noop, 1)
    await service.wait(job_id, timeout=10)

    with pytest.raises(medley.InvalidTransitionError):
        await service.cancel(job_id)
    assert (await service.get(job_id)).state is JobState.SUCCEEDED
