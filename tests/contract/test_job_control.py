from __future__ import annotations

from datetime import timedelta

import pytest

from medley.application.errors import DuplicateJobError
from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import JobCompletion, JobStore
from tests.support.jobs import InsertJob, claim, finish, sample_error, utcnow

pytestmark = pytest.mark.contract

MISSING_ID = 987_654_321


# --- cancel -----------------------------------------------------------------------------


@pytest.mark.parametrize("state", [JobState.ENQUEUED, JobState.SCHEDULED, JobState.AWAITING])
async def test_cancel_of_a_waiting_job_cancels_it_at_once(
    store: JobStore, insert_job: InsertJob, state: JobState
) -> None:
    result = await insert_job(store, state=state, run_at=utcnow() + timedelta(minutes=1))

    row = await store.job_cancel(result.id)

    assert row is not None
    assert row.id == result.id
    assert row.state is JobState.CANCELLED
    assert row.finished_at is not None
    stored = await store.job_get(result.id)
    assert stored is not None
    assert stored.state is JobState.CANCELLED
    last = (await store.job_history(result.id))[-1]
    assert (last.from_state, last.to_state, last.reason) == (
        state,
        JobState.CANCELLED,
        StateChangeReason.CANCELLED,
    )


async def test_cancel_of_a_processing_job_asks_its_worker_to_stop(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    await claim(store, worker_id="worker-a")

    row = await store.job_cancel(result.id)

    assert row is not None
    assert row.state is JobState.PROCESSING
    assert row.cancel_requested is True
    assert row.lease_owner == "worker-a"
    assert await store.job_get_cancel_requested("worker-a") == [result.id]
    assert await store.job_get_cancel_requested("worker-b") == []


async def test_cancel_requested_lists_only_flagged_jobs_of_the_worker(
    store: JobStore, insert_job: InsertJob
) -> None:
    flagged = await insert_job(store)
    await insert_job(store)
    await claim(store, worker_id="worker-a")
    await claim(store, worker_id="worker-a")

    await store.job_cancel(flagged.id)

    assert await store.job_get_cancel_requested("worker-a") == [flagged.id]


async def test_cancel_requested_is_cleared_once_the_worker_reports_the_outcome(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    row = await claim(store, worker_id="worker-a")
    await store.job_cancel(result.id)

    written = await store.job_set_state_if_processing(
        "worker-a",
        [
            JobCompletion(
                id=row.id,
                attempt=row.attempt,
                state=JobState.CANCELLED,
                reason=StateChangeReason.CANCELLED,
            )
        ],
    )

    assert written == [row.id]
    stored = await store.job_get(result.id)
    assert stored is not None
    assert stored.state is JobState.CANCELLED
    assert await store.job_get_cancel_requested("worker-a") == []


@pytest.mark.parametrize("final", [JobState.SUCCEEDED, JobState.FAILED])
async def test_cancel_of_a_final_job_leaves_it_unchanged(
    store: JobStore, insert_job: InsertJob, final: JobState
) -> None:
    result = await insert_job(store)
    await finish(store, await claim(store), final)
    before = await store.job_get(result.id)

    row = await store.job_cancel(result.id)

    assert row is not None
    assert row == before
    assert len(await store.job_history(result.id)) == 3


async def test_cancel_of_a_cancelled_job_leaves_it_unchanged(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    first = await store.job_cancel(result.id)

    second = await store.job_cancel(result.id)

    assert second == first
    assert len(await store.job_history(result.id)) == 2


async def test_cancel_of_a_missing_job_returns_none(store: JobStore) -> None:
    assert await store.job_cancel(MISSING_ID) is None


# --- retry ------------------------------------------------------------------------------


async def test_retry_of_a_failed_job_enqueues_it_with_a_fresh_attempt_budget(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    await finish(store, await claim(store), JobState.FAILED)

    row = await store.job_retry(result.id)

    assert row is not None
    assert (row.state, row.attempt, row.finished_at) == (JobState.ENQUEUED, 0, None)
    last = (await store.job_history(result.id))[-1]
    assert (last.from_state, last.to_state, last.reason) == (
        JobState.FAILED,
        JobState.ENQUEUED,
        StateChangeReason.RETRIED_BY_USER,
    )
    again = await claim(store, worker_id="worker-b")
    assert (again.id, again.attempt) == (result.id, 1)


@pytest.mark.parametrize("final", [JobState.SUCCEEDED, JobState.CANCELLED])
async def test_retry_of_a_succeeded_or_cancelled_job_enqueues_it(
    store: JobStore, insert_job: InsertJob, final: JobState
) -> None:
    result = await insert_job(store)
    if final is JobState.CANCELLED:
        await store.job_cancel(result.id)
    else:
        await finish(store, await claim(store), final)

    row = await store.job_retry(result.id)

    assert row is not None
    assert (row.state, row.attempt) == (JobState.ENQUEUED, 0)


async def test_retry_of_a_job_with_a_unique_key_reclaims_the_key(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store, unique_key="k")
    await finish(store, await claim(store), JobState.FAILED)

    await store.job_retry(result.id)
    duplicate = await insert_job(store, unique_key="k")

    assert (duplicate.id, duplicate.existing) == (result.id, True)


async def test_retry_is_refused_while_a_live_job_holds_the_unique_key(
    store: JobStore, insert_job: InsertJob
) -> None:
    old = await insert_job(store, unique_key="k")
    await finish(store, await claim(store), JobState.FAILED)
    new = await insert_job(store, unique_key="k")

    with pytest.raises(DuplicateJobError) as raised:
        await store.job_retry(old.id)

    assert raised.value.unique_key == "k"
    stored = await store.job_get(old.id)
    assert stored is not None
    assert stored.state is JobState.FAILED
    assert len(await store.job_history(old.id)) == 3
    assert new.existing is False


@pytest.mark.parametrize("state", [JobState.ENQUEUED, JobState.SCHEDULED])
async def test_retry_of_a_live_job_leaves_it_unchanged(
    store: JobStore, insert_job: InsertJob, state: JobState
) -> None:
    result = await insert_job(store, state=state, run_at=utcnow() + timedelta(minutes=1))
    before = await store.job_get(result.id)

    row = await store.job_retry(result.id)

    assert row is not None
    assert row == before
    assert len(await store.job_history(result.id)) == 1


async def test_retry_of_a_processing_job_leaves_it_unchanged(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    claimed = await claim(store)

    row = await store.job_retry(result.id)

    assert row is not None
    assert (row.state, row.attempt, row.lease_owner) == (
        JobState.PROCESSING,
        claimed.attempt,
        claimed.lease_owner,
    )


async def test_retry_of_a_missing_job_returns_none(store: JobStore) -> None:
    assert await store.job_retry(MISSING_ID) is None


# --- delete -----------------------------------------------------------------------------


async def test_delete_removes_the_job_and_its_history(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store, args=["gone"])
    kept = await insert_job(store)

    row = await store.job_delete(result.id)

    assert row is not None
    assert (row.id, row.args) == (result.id, ["gone"])
    assert await store.job_get(result.id) is None
    assert await store.job_history(result.id) == []
    assert await store.job_get(kept.id) is not None
    assert len(await store.job_history(kept.id)) == 1


async def test_delete_of_a_final_job_removes_it(store: JobStore, insert_job: InsertJob) -> None:
    result = await insert_job(store)
    await finish(store, await claim(store), JobState.FAILED, error=sample_error())

    row = await store.job_delete(result.id)

    assert row is not None
    assert row.state is JobState.FAILED
    assert await store.job_get(result.id) is None


async def test_delete_of_a_processing_job_is_refused(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    await claim(store)

    row = await store.job_delete(result.id)

    assert row is not None
    assert row.state is JobState.PROCESSING
    stored = await store.job_get(result.id)
    assert stored is not None
    assert stored.state is JobState.PROCESSING
    assert len(await store.job_history(result.id)) == 2


async def test_delete_of_a_missing_job_returns_none(store: JobStore) -> None:
    assert await store.job_delete(MISSING_ID) is None


# --- prune ------------------------------------------------------------------------------


async def test_prune_deletes_only_final_jobs_of_the_state_finished_before_the_cutoff(
    store: JobStore, insert_job: InsertJob
) -> None:
    done = await insert_job(store)
    await finish(store, await claim(store), JobState.SUCCEEDED)
    failed = await insert_job(store)
    await finish(store, await claim(store), JobState.FAILED)
    waiting = await insert_job(store)
    future = utcnow() + timedelta(minutes=1)

    pruned = await store.job_prune(JobState.SUCCEEDED, future)

    assert pruned == 1
    assert await store.job_get(done.id) is None
    assert await store.job_history(done.id) == []
    assert await store.job_get(failed.id) is not None
    assert await store.job_get(waiting.id) is not None
    assert len(await store.job_history(failed.id)) == 3


async def test_prune_keeps_jobs_finished_after_the_cutoff(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    await finish(store, await claim(store), JobState.SUCCEEDED)

    pruned = await store.job_prune(JobState.SUCCEEDED, utcnow() - timedelta(hours=1))

    assert pruned == 0
    assert await store.job_get(result.id) is not None


async def test_prune_of_a_live_state_deletes_nothing(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)

    pruned = await store.job_prune(JobState.ENQUEUED, utcnow() + timedelta(hours=1))

    assert pruned == 0
    assert await store.job_get(result.id) is not None
