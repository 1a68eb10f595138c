"""What a user sees when jobs fail: retries with the error in the history, dead jobs in
`failed`, unknown job names, and timeouts."""

from __future__ import annotations

from datetime import timedelta

import pytest

import medley
from medley.application.models.jobs import JobState, StateChangeReason
from tests.integration import jobs
from tests.support.jobs import insert_job
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


async def test_failed_attempt_is_retried_and_the_error_is_kept_in_history(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    server = await start_worker()

    info = await service.wait(await service.enqueue(jobs.flaky), timeout=10)

    assert info.state is JobState.SUCCEEDED
    assert info.result == 2
    assert info.attempt == 2
    assert info.error is None, "success clears the error of the failed attempt"
    transitions = [(h.from_state, h.to_state, h.reason, h.attempt) for h in info.history]
    assert transitions == [
        (None, JobState.ENQUEUED, StateChangeReason.ENQUEUED, 0),
        (JobState.ENQUEUED, JobState.PROCESSING, StateChangeReason.FETCHED, 1),
        (JobState.PROCESSING, JobState.SCHEDULED, StateChangeReason.RETRIED, 1),
        (JobState.SCHEDULED, JobState.PROCESSING, StateChangeReason.FETCHED, 2),
        (JobState.PROCESSING, JobState.SUCCEEDED, StateChangeReason.COMPLETED, 2),
    ]
    retried = info.history[2]
    assert retried.worker == server.worker_id
    assert retried.error is not None
    assert retried.error.type == "ValueError"
    assert retried.error.message == "first attempt fails"
    assert retried.error.traceback is not None
    assert "first attempt fails" in retried.error.traceback
    assert "flaky" in retried.error.traceback


async def test_job_without_attempts_left_ends_failed_with_its_error(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()

    info = await service.wait(await service.enqueue(jobs.always_fails), timeout=10)

    assert info.state is JobState.FAILED
    assert info.attempt == 1
    assert info.max_attempts == 1
    assert info.finished_at is not None
    assert info.error is not None
    assert (info.error.type, info.error.message) == ("RuntimeError", "boom")
    assert info.error.traceback is not None
    assert "raise RuntimeError" in info.error.traceback
    last = info.history[-1]
    assert (last.from_state, last.to_state, last.reason) == (
        JobState.PROCESSING,
        JobState.FAILED,
        StateChangeReason.FAILED,
    )
    assert last.error == info.error


async def test_job_whose_name_is_not_registered_fails_with_unknown_job_error(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    inserted = await insert_job(service.store, job="it.never_registered", max_attempts=5)
    await start_worker()

    info = await service.wait(inserted.id, timeout=10)

    assert info.state is JobState.FAILED
    assert info.attempt == 1, "an unknown job is not retried"
    assert info.error is not None
    assert info.error.type == "UnknownJobError"
    assert "it.never_registered" in info.error.message


async def test_job_over_its_timeout_fails_with_timeout_error(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()
    options = medley.JobOptions(timeout=timedelta(seconds=0.2), max_attempts=1)

    job_id = await service.enqueue_with(jobs.sleep, 10, options=options)
    info = await service.wait(job_id, timeout=5)

    assert info.state is JobState.FAILED
    assert info.timeout_seconds == pytest.approx(0.2)
    assert info.error is not None
    assert info.error.type == "TimeoutError"
    assert "0.2" in info.error.message, "the message names the timeout"
    assert info.started_at is not None
    assert info.finished_at is not None
    assert info.finished_at - info.started_at < timedelta(seconds=5)
    last = info.history[-1]
    assert (last.to_state, last.reason) == (JobState.FAILED, StateChangeReason.TIMED_OUT)


async def test_timed_out_attempt_is_scheduled_for_retry_when_attempts_are_left(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()
    options = medley.JobOptions(timeout=timedelta(seconds=0.1), max_attempts=2)
    job_id = await service.enqueue_with(jobs.sleep, 10, options=options)

    async def scheduled_again() -> bool:
        return (await service.get(job_id)).state is JobState.SCHEDULED

    await wait_for(scheduled_again, timeout=5, message="timed-out job scheduled for retry")
    info = await service.get(job_id)

    assert info.attempt == 1
    assert info.error is not None
    assert info.error.type == "TimeoutError"
    assert info.run_at > info.created_at, "the retry waits for its backoff"
    last = info.history[-1]
    assert (last.from_state, last.to_state, last.reason) == (
        JobState.PROCESSING,
        JobState.SCHEDULED,
        StateChangeReason.TIMED_OUT,
    )


async def test_failed_job_retried_by_a_user_runs_again_with_a_fresh_attempt_budget(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()
    job_id = await service.enqueue(jobs.always_fails)
    assert (await service.wait(job_id, timeout=10)).state is JobState.FAILED

    retried = await service.retry(job_id)  # the worker may have fetched it already
    assert StateChangeReason.RETRIED_BY_USER in [h.reason for h in retried.history]
    info = await service.wait(job_id, timeout=10)

    assert info.state is JobState.FAILED
    assert info.attempt == 1, "the attempt budget starts over"
    assert [h.reason for h in info.history] == [
        StateChangeReason.ENQUEUED,
        StateChangeReason.FETCHED,
        StateChangeReason.FAILED,
        StateChangeReason.RETRIED_BY_USER,
        StateChangeReason.FETCHED,
        StateChangeReason.FAILED,
    ]


async def test_sync_job_is_not_timed_out_while_waiting_behind_a_timed_out_one(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    stuck = medley.JobOptions(timeout=timedelta(seconds=0.2), max_attempts=1, priority=1)
    quick = medley.JobOptions(timeout=timedelta(seconds=0.5), max_attempts=1, priority=2)
    first = await service.enqueue_with(jobs.sync_sleep, 1.0, options=stuck)
    second = await service.enqueue_with(jobs.sync_sleep, 0.01, options=quick)
    await start_worker(concurrency=1)

    assert (await service.wait(first, timeout=5)).state is JobState.FAILED
    info = await service.wait(second, timeout=5)

    assert info.error is None, "a 10 ms job timed out without having run"
    assert info.state is JobState.SUCCEEDED
