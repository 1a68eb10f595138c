"""Retry control from inside jobs, exception rules, per-queue timeouts, sync cancellation,
and leases that live workers keep."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import medley
from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.maintenance.rescuer import JobRescuer
from medley.infrastructure.jobs.storage.port import JobFetchParams
from tests.integration import rule_jobs
from tests.support.wait import wait_for
from tests.support.workers import StartWorker, wait_processing

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    rule_jobs.reset()
    yield
    rule_jobs.reset()


async def test_snooze_comes_back_without_spending_an_attempt(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()

    info = await service.wait(await service.enqueue(rule_jobs.snooze_once), timeout=10)

    assert info.state is JobState.SUCCEEDED, "max_attempts=1, yet the snooze did not fail it"
    assert info.attempt == 1
    assert rule_jobs.seen == [("snooze_once", 1), ("snooze_once", 1)]
    assert StateChangeReason.SNOOZED in [h.reason for h in info.history]


async def test_retry_raised_by_the_job_spends_an_attempt_with_its_own_delay(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()

    info = await service.wait(await service.enqueue(rule_jobs.retry_with_delay), timeout=10)

    assert (info.state, info.result, info.attempt) == (JobState.SUCCEEDED, 2, 2)
    retried = [h for h in info.history if h.reason is StateChangeReason.RETRIED]
    assert retried[0].error is not None
    assert retried[0].error.message == "upstream asked for a retry"


async def test_retry_on_retries_only_the_named_errors(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()

    flaky = await service.wait(await service.enqueue(rule_jobs.retry_on_only, "flaky"), timeout=10)
    bad = await service.wait(await service.enqueue(rule_jobs.retry_on_only, "bad"), timeout=10)

    assert (flaky.state, flaky.attempt) == (JobState.FAILED, 5)
    assert (bad.state, bad.attempt) == (JobState.FAILED, 1)
    assert bad.error is not None
    assert bad.error.type == "KeyError"


async def test_discard_on_fails_at_once_with_attempts_left(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()

    info = await service.wait(await service.enqueue(rule_jobs.discard), timeout=10)

    assert (info.state, info.attempt) == (JobState.FAILED, 1)
    assert info.error is not None
    assert info.error.duration_seconds is not None


async def test_queue_timeout_applies_to_jobs_without_their_own(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(queues=("slow",), queue_timeouts={"slow": 0.3})
    options = medley.JobOptions(queue="slow", max_attempts=1)

    job_id = await service.enqueue_with(rule_jobs.long_async, "never", options=options)
    info = await service.wait(job_id, timeout=10)

    assert info.state is JobState.FAILED
    assert info.error is not None
    assert info.error.type == "TimeoutError"
    assert "0.3s" in info.error.message


async def test_cancelling_a_sync_job_sets_its_cooperative_flag(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(heartbeat_seconds=0.2, lease_seconds=5)
    job_id = await service.enqueue(rule_jobs.cooperative)

    await wait_processing(service, job_id)
    await service.cancel(job_id)

    info = await service.wait(job_id, timeout=3)
    assert info.state is JobState.CANCELLED
    await wait_for(rule_jobs.sync_stopped.is_set, timeout=3, message="thread saw the flag")


async def test_a_live_worker_keeps_its_long_job_past_the_lease(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    server = await start_worker(heartbeat_seconds=0.2, lease_seconds=0.6)
    job_id = await service.enqueue(rule_jobs.long_async, "long")
    await wait_for(lambda: ("long_async", 1) in rule_jobs.seen, timeout=5, message="job running")
    rescuer = JobRescuer(service.store, lease_seconds=0.6, interval=1)
    beats = 0

    async def three_leases_passed() -> bool:
        nonlocal beats
        result = await rescuer.run_once()
        assert result.rescued == 0, "a job of a live worker was rescued"
        beats += 1
        return beats >= 15

    await wait_for(three_leases_passed, timeout=10, interval=0.15)
    rule_jobs.open_gate("long")
    info = await service.wait(job_id, timeout=5)

    assert (info.state, info.attempt, info.result) == (JobState.SUCCEEDED, 1, 1)
    assert server.worker_id in {h.worker for h in info.history}


async def test_a_claim_whose_reply_was_lost_is_given_back_by_the_owner(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    server = await start_worker(heartbeat_seconds=0.2, lease_seconds=5, queues=("other",))
    options = medley.JobOptions(queue="lost")
    job_id = await service.enqueue_with(rule_jobs.long_async, "lost", options=options)
    # The claim commits under this live worker's id, but the worker never learns of it.
    claimed = await service.store.job_fetch_available(
        JobFetchParams(queue="lost", limit=1, worker_id=server.worker_id)
    )
    assert [r.id for r in claimed] == [job_id]

    async def given_back() -> bool:
        return (await service.get(job_id)).state is JobState.ENQUEUED

    await wait_for(given_back, timeout=5, message="orphaned claim given back")
    info = await service.get(job_id)
    assert info.attempt == 0, "the attempt never ran, so it is not spent"
    assert info.history[-1].reason is StateChangeReason.RELEASED
