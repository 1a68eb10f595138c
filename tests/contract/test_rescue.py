from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import (
    JobCompletion,
    JobFetchParams,
    JobRescueParams,
    JobRow,
    JobStore,
    ServerParams,
)
from tests.support.jobs import InsertJob, assert_same_instant, claim, utcnow
from tests.support.wait import wait_for

pytestmark = pytest.mark.contract

LEASE = 60.0


class RetryAt:
    """A `retry_at` that remembers the attempts it was asked about."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.calls: list[int] = []

    def __call__(self, attempt: int) -> datetime:
        self.calls.append(attempt)
        return self.at


def heartbeat(server_id: str) -> ServerParams:
    return ServerParams(
        id=server_id,
        hostname="host",
        pid=1,
        queues=["default"],
        concurrency=1,
        running=1,
        cpu_percent=0.0,
        rss_bytes=0,
        started_at=utcnow(),
    )


async def rescue_until_found(store: JobStore, params: JobRescueParams) -> list[JobRow]:
    """Rescue with a tiny lease until the (just silent) owner counts as gone."""
    rescued: list[JobRow] = []

    async def something_rescued() -> bool:
        rescued.extend(await store.job_rescue(params))
        return bool(rescued)

    await wait_for(something_rescued)
    return rescued


async def test_rescue_leaves_jobs_of_a_live_worker_alone(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    await store.server_heartbeat(heartbeat("worker-alive"))
    await claim(store, worker_id="worker-alive")

    rescued = await store.job_rescue(
        JobRescueParams(lease_seconds=LEASE, retry_at=RetryAt(utcnow()))
    )

    assert rescued == []
    stored = await store.job_get(result.id)
    assert stored is not None
    assert (stored.state, stored.lease_owner) == (JobState.PROCESSING, "worker-alive")


async def test_rescue_schedules_again_a_job_whose_worker_never_heartbeat(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store, max_attempts=3)
    await claim(store, worker_id="worker-ghost")
    retry_at = RetryAt(utcnow() + timedelta(seconds=30))

    rescued = await store.job_rescue(JobRescueParams(lease_seconds=LEASE, retry_at=retry_at))

    assert [row.id for row in rescued] == [result.id]
    assert retry_at.calls == [1]
    stored = await store.job_get(result.id)
    assert stored is not None
    assert stored.state is JobState.SCHEDULED
    assert stored.attempt == 1
    assert stored.lease_owner is None
    assert stored.finished_at is None
    assert_same_instant(stored.run_at, retry_at.at)
    assert rescued[0].state is JobState.SCHEDULED
    last = (await store.job_history(result.id))[-1]
    assert (last.from_state, last.to_state, last.reason) == (
        JobState.PROCESSING,
        JobState.SCHEDULED,
        StateChangeReason.RESCUED,
    )
    assert last.attempt == 1


async def test_rescue_schedules_again_a_job_whose_worker_stopped_heartbeating(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    await store.server_heartbeat(heartbeat("worker-stale"))
    await claim(store, worker_id="worker-stale")
    retry_at = RetryAt(utcnow() + timedelta(seconds=30))

    rescued = await rescue_until_found(store, JobRescueParams(lease_seconds=0.0, retry_at=retry_at))

    assert [row.id for row in rescued] == [result.id]
    stored = await store.job_get(result.id)
    assert stored is not None
    assert stored.state is JobState.SCHEDULED
    assert_same_instant(stored.run_at, retry_at.at)


async def test_rescued_job_runs_again_with_the_next_attempt(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    await claim(store, worker_id="worker-ghost")
    await store.job_rescue(
        JobRescueParams(lease_seconds=LEASE, retry_at=RetryAt(utcnow() - timedelta(seconds=1)))
    )

    again = await claim(store, worker_id="worker-b")

    assert (again.id, again.attempt, again.lease_owner) == (result.id, 2, "worker-b")


async def test_rescue_fails_a_job_with_no_attempts_left(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store, max_attempts=1)
    await claim(store, worker_id="worker-ghost")

    rescued = await store.job_rescue(
        JobRescueParams(lease_seconds=LEASE, retry_at=RetryAt(utcnow()))
    )

    assert [row.state for row in rescued] == [JobState.FAILED]
    stored = await store.job_get(result.id)
    assert stored is not None
    assert stored.state is JobState.FAILED
    assert stored.finished_at is not None
    assert stored.error is not None
    assert stored.error.get("type")
    assert stored.error.get("message")
    last = (await store.job_history(result.id))[-1]
    assert (last.to_state, last.reason) == (JobState.FAILED, StateChangeReason.RESCUED)
    assert last.error is not None


async def test_completion_from_the_old_owner_is_refused_after_a_rescue(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    row = await claim(store, worker_id="worker-ghost")
    await store.job_rescue(JobRescueParams(lease_seconds=LEASE, retry_at=RetryAt(utcnow())))

    written = await store.job_set_state_if_processing(
        "worker-ghost",
        [
            JobCompletion(
                id=row.id,
                attempt=row.attempt,
                state=JobState.SUCCEEDED,
                reason=StateChangeReason.COMPLETED,
                result_json="1",
            )
        ],
    )

    assert written == []
    stored = await store.job_get(row.id)
    assert stored is not None
    assert stored.state is JobState.SCHEDULED
    assert stored.result is None


async def test_completion_from_the_old_owner_is_refused_once_the_job_runs_again(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    old = await claim(store, worker_id="worker-a")
    await store.job_rescue(
        JobRescueParams(lease_seconds=LEASE, retry_at=RetryAt(utcnow() - timedelta(seconds=1)))
    )
    new = await claim(store, worker_id="worker-a")

    written = await store.job_set_state_if_processing(
        "worker-a",
        [
            JobCompletion(
                id=old.id,
                attempt=old.attempt,
                state=JobState.SUCCEEDED,
                reason=StateChangeReason.COMPLETED,
                result_json="1",
            )
        ],
    )

    assert written == []
    stored = await store.job_get(new.id)
    assert stored is not None
    assert (stored.state, stored.attempt) == (JobState.PROCESSING, 2)


async def test_rescue_ignores_jobs_that_are_not_processing(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    await insert_job(store, state=JobState.SCHEDULED, run_at=utcnow() + timedelta(hours=1))

    rescued = await store.job_rescue(JobRescueParams(lease_seconds=0.0, retry_at=RetryAt(utcnow())))

    assert rescued == []


async def test_rescue_cancels_a_job_whose_cancel_was_requested(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store, max_attempts=5)
    await claim(store, worker_id="worker-ghost")
    await store.job_cancel(result.id)

    rescued = await store.job_rescue(
        JobRescueParams(lease_seconds=LEASE, retry_at=RetryAt(utcnow() - timedelta(seconds=1)))
    )

    assert [row.state for row in rescued] == [JobState.CANCELLED]
    stored = await store.job_get(result.id)
    assert stored is not None
    assert (stored.state, stored.cancel_requested, stored.lease_owner) == (
        JobState.CANCELLED,
        False,
        None,
    )
    assert stored.finished_at is not None
    last = (await store.job_history(result.id))[-1]
    assert (last.from_state, last.to_state, last.reason) == (
        JobState.PROCESSING,
        JobState.CANCELLED,
        StateChangeReason.RESCUED,
    )
    assert (
        await store.job_fetch_available(
            JobFetchParams(queue="default", limit=1, worker_id="worker-b")
        )
        == []
    )


async def test_rescue_without_retry_time_keeps_the_job_its_place_in_the_queue(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store, max_attempts=3)
    claimed = await claim(store, worker_id="worker-ghost")
    await insert_job(store)  # enqueued after it: must not overtake the rescued job

    rescued = await store.job_rescue(JobRescueParams(lease_seconds=LEASE))

    assert [row.id for row in rescued] == [result.id]
    assert_same_instant(rescued[0].run_at, claimed.run_at)
    again = await claim(store, worker_id="worker-b")
    assert (again.id, again.attempt) == (result.id, 2)
