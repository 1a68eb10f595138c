"""The dead-letter queue's bulk tools: retry or delete every final job matching a filter."""

from __future__ import annotations

import pytest

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import JobBulkParams, JobStore
from tests.support.jobs import InsertJob, claim, finish

pytestmark = pytest.mark.contract


async def _failed_job(
    store: JobStore,
    insert_job: InsertJob,
    *,
    queue: str = "default",
    error_type: str = "ValueError",
    unique_key: str | None = None,
) -> int:
    result = await insert_job(store, queue=queue, unique_key=unique_key)
    row = await claim(store, queue=queue)
    error = {"type": error_type, "message": "broke", "traceback": None}
    await finish(store, row, JobState.FAILED, error=error)
    return result.id


async def test_retry_many_enqueues_only_the_matching_failed_jobs(
    store: JobStore, insert_job: InsertJob
) -> None:
    value_errors = [await _failed_job(store, insert_job) for _ in range(3)]
    timeout = await _failed_job(store, insert_job, error_type="TimeoutError")
    other_queue = await _failed_job(store, insert_job, queue="other")

    retried = await store.job_retry_many(
        JobBulkParams(states=[JobState.FAILED], queue="default", error_type="ValueError")
    )

    assert retried == value_errors
    for job_id in value_errors:
        row = await store.job_get(job_id)
        assert row is not None
        assert (row.state, row.attempt) == (JobState.ENQUEUED, 0)
        history = await store.job_history(job_id)
        assert history[-1].reason is StateChangeReason.RETRIED_BY_USER
        assert history[-1].from_state is JobState.FAILED
    for job_id in (timeout, other_queue):
        row = await store.job_get(job_id)
        assert row is not None
        assert row.state is JobState.FAILED


async def test_retry_many_respects_the_limit(store: JobStore, insert_job: InsertJob) -> None:
    for _ in range(5):
        await _failed_job(store, insert_job)

    first = await store.job_retry_many(JobBulkParams(states=[JobState.FAILED], limit=2))
    rest = await store.job_retry_many(JobBulkParams(states=[JobState.FAILED], limit=10))

    assert len(first) == 2
    assert len(rest) == 3
    assert not set(first) & set(rest)


async def test_retry_many_skips_a_job_whose_unique_key_a_live_job_holds(
    store: JobStore, insert_job: InsertJob
) -> None:
    dead = await _failed_job(store, insert_job, unique_key="report-7")
    await insert_job(store, unique_key="report-7")

    assert await store.job_retry_many(JobBulkParams(states=[JobState.FAILED])) == []
    row = await store.job_get(dead)
    assert row is not None
    assert row.state is JobState.FAILED


async def test_delete_many_removes_matching_final_jobs_and_their_history(
    store: JobStore, insert_job: InsertJob
) -> None:
    doomed = [await _failed_job(store, insert_job) for _ in range(2)]
    kept = await _failed_job(store, insert_job, error_type="KeyError")
    live = (await insert_job(store)).id

    deleted = await store.job_delete_many(
        JobBulkParams(states=[JobState.FAILED], error_type="ValueError")
    )

    assert deleted == doomed
    for job_id in doomed:
        assert await store.job_get(job_id) is None
        assert await store.job_history(job_id) == []
    assert await store.job_get(kept) is not None
    assert await store.job_get(live) is not None


def test_bulk_params_refuse_live_states() -> None:
    with pytest.raises(ValueError, match="final states"):
        JobBulkParams(states=[JobState.PROCESSING])
