from __future__ import annotations

from datetime import timedelta

import pytest

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import (
    JobCompletion,
    JobFetchParams,
    JobStore,
    ProgressUpdate,
)
from tests.support.jobs import (
    InsertJob,
    assert_same_instant,
    claim,
    sample_error,
    utcnow,
)

pytestmark = pytest.mark.contract

WORKER = "worker-a"


def succeeded(job_id: int, attempt: int = 1, result_json: str = '{"ok": 1}') -> JobCompletion:
    return JobCompletion(
        id=job_id,
        attempt=attempt,
        state=JobState.SUCCEEDED,
        reason=StateChangeReason.COMPLETED,
        result_json=result_json,
    )


async def test_set_state_writes_a_success_with_result_and_finished_at(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    row = await claim(store, worker_id=WORKER)
    before = utcnow()

    written = await store.job_set_state_if_processing(WORKER, [succeeded(row.id)])

    assert written == [result.id]
    stored = await store.job_get(result.id)
    assert stored is not None
    assert stored.state is JobState.SUCCEEDED
    assert stored.result == {"ok": 1}
    assert stored.attempt == 1
    assert stored.lease_owner is None
    assert stored.finished_at is not None
    assert stored.finished_at >= before - timedelta(seconds=5)


async def test_set_state_writes_a_batch_of_outcomes_at_once(
    store: JobStore, insert_job: InsertJob
) -> None:
    for _ in range(3):
        await insert_job(store)
    rows = [await claim(store, worker_id=WORKER) for _ in range(3)]

    written = await store.job_set_state_if_processing(
        WORKER,
        [
            succeeded(rows[0].id, result_json="1"),
            JobCompletion(
                id=rows[1].id,
                attempt=1,
                state=JobState.FAILED,
                reason=StateChangeReason.FAILED,
                error=sample_error(),
            ),
            succeeded(rows[2].id, result_json='"three"'),
        ],
    )

    assert sorted(written) == sorted(row.id for row in rows)
    states = [await store.job_get(row.id) for row in rows]
    assert [(s.state, s.result) for s in states if s is not None] == [
        (JobState.SUCCEEDED, 1),
        (JobState.FAILED, None),
        (JobState.SUCCEEDED, "three"),
    ]


async def test_set_state_of_nothing_writes_nothing(store: JobStore) -> None:
    assert await store.job_set_state_if_processing(WORKER, []) == []


async def test_set_state_is_refused_for_another_worker(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    row = await claim(store, worker_id=WORKER)

    written = await store.job_set_state_if_processing("worker-b", [succeeded(row.id)])

    assert written == []
    stored = await store.job_get(row.id)
    assert stored is not None
    assert (stored.state, stored.lease_owner, stored.result) == (
        JobState.PROCESSING,
        WORKER,
        None,
    )


async def test_set_state_is_refused_for_another_attempt(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    row = await claim(store, worker_id=WORKER)

    written = await store.job_set_state_if_processing(WORKER, [succeeded(row.id, attempt=2)])

    assert written == []
    stored = await store.job_get(row.id)
    assert stored is not None
    assert stored.state is JobState.PROCESSING


async def test_set_state_writes_only_the_jobs_still_held_in_a_batch(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    await insert_job(store)
    held = await claim(store, worker_id=WORKER)
    foreign = await claim(store, worker_id="worker-b")

    written = await store.job_set_state_if_processing(
        WORKER, [succeeded(held.id), succeeded(foreign.id)]
    )

    assert written == [held.id]


async def test_set_state_returns_nothing_when_the_job_is_gone(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    row = await claim(store, worker_id=WORKER)
    assert await store.job_set_state_if_processing(WORKER, [succeeded(row.id)]) == [row.id]
    assert await store.job_delete(row.id) is not None

    written = await store.job_set_state_if_processing(WORKER, [succeeded(row.id)])

    assert written == []
    assert await store.job_get(row.id) is None


async def test_set_state_returns_nothing_for_an_unknown_job(store: JobStore) -> None:
    assert await store.job_set_state_if_processing(WORKER, [succeeded(987_654_321)]) == []


async def test_set_state_is_refused_after_the_job_was_already_completed(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    row = await claim(store, worker_id=WORKER)
    await store.job_set_state_if_processing(WORKER, [succeeded(row.id, result_json="1")])

    written = await store.job_set_state_if_processing(WORKER, [succeeded(row.id, result_json="2")])

    assert written == []
    stored = await store.job_get(row.id)
    assert stored is not None
    assert stored.result == 1


async def test_set_state_schedules_a_retry_with_its_run_at_and_keeps_the_attempt(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    row = await claim(store, worker_id=WORKER)
    run_at = utcnow() + timedelta(minutes=10)
    error = sample_error("try again")

    written = await store.job_set_state_if_processing(
        WORKER,
        [
            JobCompletion(
                id=row.id,
                attempt=1,
                state=JobState.SCHEDULED,
                reason=StateChangeReason.RETRIED,
                error=error,
                run_at=run_at,
            )
        ],
    )

    assert written == [row.id]
    stored = await store.job_get(row.id)
    assert stored is not None
    assert stored.state is JobState.SCHEDULED
    assert stored.attempt == 1
    assert stored.error == error
    assert stored.lease_owner is None
    assert stored.finished_at is None
    assert_same_instant(stored.run_at, run_at)
    assert (
        await store.job_fetch_available(JobFetchParams(queue="default", limit=1, worker_id=WORKER))
        == []
    )


async def test_set_state_retry_is_fetched_again_with_the_next_attempt(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    row = await claim(store, worker_id=WORKER)
    await store.job_set_state_if_processing(
        WORKER,
        [
            JobCompletion(
                id=row.id,
                attempt=1,
                state=JobState.SCHEDULED,
                reason=StateChangeReason.RETRIED,
                error=sample_error(),
                run_at=utcnow() - timedelta(seconds=1),
            )
        ],
    )

    again = await claim(store, worker_id="worker-b")

    assert (again.id, again.attempt, again.lease_owner) == (row.id, 2, "worker-b")


async def test_set_state_release_gives_the_job_back_without_spending_the_attempt(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    row = await claim(store, worker_id=WORKER)

    written = await store.job_set_state_if_processing(
        WORKER,
        [
            JobCompletion(
                id=row.id,
                attempt=1,
                state=JobState.ENQUEUED,
                reason=StateChangeReason.RELEASED,
                release=True,
            )
        ],
    )

    assert written == [row.id]
    stored = await store.job_get(row.id)
    assert stored is not None
    assert (stored.state, stored.attempt, stored.lease_owner) == (JobState.ENQUEUED, 0, None)
    again = await claim(store, worker_id="worker-b")
    assert (again.id, again.attempt) == (row.id, 1)


async def test_progress_update_is_visible_through_job_get(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    row = await claim(store, worker_id=WORKER)

    await store.job_progress_update(
        WORKER, [ProgressUpdate(id=row.id, attempt=1, fraction=0.5, message="half way")]
    )

    stored = await store.job_get(row.id)
    assert stored is not None
    assert (stored.progress_fraction, stored.progress_message) == (0.5, "half way")


async def test_progress_update_from_another_worker_is_ignored(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    row = await claim(store, worker_id=WORKER)
    await store.job_progress_update(
        WORKER, [ProgressUpdate(id=row.id, attempt=1, fraction=0.25, message="mine")]
    )

    await store.job_progress_update(
        "worker-b", [ProgressUpdate(id=row.id, attempt=1, fraction=0.9, message="not mine")]
    )
    await store.job_progress_update(
        WORKER, [ProgressUpdate(id=row.id, attempt=2, fraction=0.8, message="stale attempt")]
    )

    stored = await store.job_get(row.id)
    assert stored is not None
    assert (stored.progress_fraction, stored.progress_message) == (0.25, "mine")


async def test_progress_update_of_nothing_does_nothing(store: JobStore) -> None:
    await store.job_progress_update(WORKER, [])


async def test_set_state_records_history_with_reason_and_error(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    row = await claim(store, worker_id=WORKER)
    error = sample_error("exploded")

    await store.job_set_state_if_processing(
        WORKER,
        [
            JobCompletion(
                id=row.id,
                attempt=1,
                state=JobState.FAILED,
                reason=StateChangeReason.FAILED,
                error=error,
            )
        ],
    )

    history = await store.job_history(result.id)
    assert [(h.from_state, h.to_state) for h in history] == [
        (None, JobState.ENQUEUED),
        (JobState.ENQUEUED, JobState.PROCESSING),
        (JobState.PROCESSING, JobState.FAILED),
    ]
    last = history[-1]
    assert last.reason is StateChangeReason.FAILED
    assert last.error == error
    assert last.attempt == 1
    assert last.worker == WORKER
    assert history[0].at <= history[1].at <= last.at
    stored = await store.job_get(result.id)
    assert stored is not None
    assert stored.error == error
    assert stored.finished_at is not None


async def test_set_state_records_a_success_in_history(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    row = await claim(store, worker_id=WORKER)

    await store.job_set_state_if_processing(WORKER, [succeeded(row.id)])

    last = (await store.job_history(result.id))[-1]
    assert (last.from_state, last.to_state, last.reason, last.error) == (
        JobState.PROCESSING,
        JobState.SUCCEEDED,
        StateChangeReason.COMPLETED,
        None,
    )


async def test_set_state_stores_the_last_progress_sent_with_the_outcome(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    row = await claim(store, worker_id=WORKER)

    await store.job_set_state_if_processing(
        WORKER,
        [
            JobCompletion(
                id=row.id,
                attempt=1,
                state=JobState.SUCCEEDED,
                reason=StateChangeReason.COMPLETED,
                result_json="null",
                progress_fraction=1.0,
                progress_message="done",
            )
        ],
    )

    stored = await store.job_get(row.id)
    assert stored is not None
    assert (stored.progress_fraction, stored.progress_message) == (1.0, "done")


async def test_success_after_a_failed_attempt_clears_the_error_but_history_keeps_it(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)
    row = await claim(store, worker_id=WORKER)
    retry = JobCompletion(
        id=row.id,
        attempt=1,
        state=JobState.SCHEDULED,
        reason=StateChangeReason.RETRIED,
        error=sample_error("first attempt broke"),
        run_at=utcnow() - timedelta(seconds=1),
    )
    assert await store.job_set_state_if_processing(WORKER, [retry]) == [result.id]
    again = await claim(store, worker_id=WORKER)
    assert again.attempt == 2

    await store.job_set_state_if_processing(WORKER, [succeeded(again.id, attempt=2)])

    stored = await store.job_get(result.id)
    assert stored is not None
    assert stored.state is JobState.SUCCEEDED
    assert stored.error is None
    errors = [h.error for h in await store.job_history(result.id) if h.error]
    assert errors
    assert errors[0]["message"] == "first attempt broke"
