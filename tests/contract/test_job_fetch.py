from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import (
    JobCompletion,
    JobFetchParams,
    JobStore,
    ProgressUpdate,
)
from tests.support.backends import Backend
from tests.support.jobs import InsertJob, claim, finish, job_params, sample_error, utcnow

pytestmark = pytest.mark.contract


def fetch(
    worker_id: str = "worker-a", *, limit: int = 10, queue: str = "default"
) -> JobFetchParams:
    return JobFetchParams(queue=queue, limit=limit, worker_id=worker_id)


async def test_fetch_claims_up_to_limit_jobs_for_the_worker(store: JobStore) -> None:
    inserted = await store.job_insert_many([job_params(args=[i]) for i in range(5)])
    before = utcnow()

    rows = await store.job_fetch_available(fetch("worker-a", limit=3))

    assert len(rows) == 3
    for row in rows:
        assert row.state is JobState.PROCESSING
        assert row.attempt == 1
        assert row.lease_owner == "worker-a"
        assert row.started_at is not None
        assert row.started_at >= before - timedelta(seconds=5)
        assert row.finished_at is None
    claimed = {row.id for row in rows}
    for result in inserted:
        stored = await store.job_get(result.id)
        assert stored is not None
        expected = JobState.PROCESSING if result.id in claimed else JobState.ENQUEUED
        assert stored.state is expected


async def test_fetch_returns_nothing_when_no_job_is_runnable(store: JobStore) -> None:
    assert await store.job_fetch_available(fetch()) == []


async def test_fetch_returns_the_job_payload(store: JobStore, insert_job: InsertJob) -> None:
    await insert_job(store, job="tests.add", args=[1, 2], kwargs={"k": "v"}, timeout_seconds=3.0)

    row = await claim(store)

    assert (row.job, row.args, row.kwargs, row.timeout_seconds) == (
        "tests.add",
        [1, 2],
        {"k": "v"},
        3.0,
    )


async def test_fetch_claims_by_priority_then_run_at_then_id(
    store: JobStore, insert_job: InsertJob
) -> None:
    now = utcnow()
    late = await insert_job(store, priority=100, run_at=now - timedelta(seconds=10))
    urgent = await insert_job(store, priority=50, run_at=now - timedelta(seconds=5))
    early = await insert_job(store, priority=100, run_at=now - timedelta(seconds=20))
    late_twin = await insert_job(store, priority=100, run_at=now - timedelta(seconds=10))

    order = [(await claim(store)).id for _ in range(4)]

    assert order == [urgent.id, early.id, late.id, late_twin.id]


async def test_fetch_returns_a_batch_in_claim_order(store: JobStore, insert_job: InsertJob) -> None:
    low = await insert_job(store, priority=200)
    high = await insert_job(store, priority=1)
    mid = await insert_job(store, priority=100)

    rows = await store.job_fetch_available(fetch(limit=10))

    assert [row.id for row in rows] == [high.id, mid.id, low.id]


async def test_fetch_clears_the_progress_of_a_previous_attempt(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store)
    row = await claim(store, worker_id="worker-a")
    await store.job_progress_update(
        "worker-a", [ProgressUpdate(id=row.id, attempt=1, fraction=0.7, message="far")]
    )
    await store.job_set_state_if_processing(
        "worker-a",
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

    assert (again.attempt, again.progress_fraction, again.progress_message) == (2, None, None)


async def test_fetch_claims_only_jobs_of_the_given_queue(
    store: JobStore, insert_job: InsertJob
) -> None:
    mine = await insert_job(store, queue="ai")
    other = await insert_job(store, queue="default")

    rows = await store.job_fetch_available(fetch(queue="ai"))

    assert [row.id for row in rows] == [mine.id]
    untouched = await store.job_get(other.id)
    assert untouched is not None
    assert untouched.state is JobState.ENQUEUED


async def test_fetch_skips_a_scheduled_job_until_its_run_at(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store, state=JobState.SCHEDULED, run_at=utcnow() + timedelta(hours=1))

    assert await store.job_fetch_available(fetch()) == []


async def test_fetch_skips_an_enqueued_job_whose_run_at_is_in_the_future(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store, run_at=utcnow() + timedelta(hours=1))

    assert await store.job_fetch_available(fetch()) == []


async def test_fetch_claims_a_scheduled_job_once_it_is_due(
    store: JobStore, insert_job: InsertJob
) -> None:
    due = await insert_job(store, state=JobState.SCHEDULED, run_at=utcnow() - timedelta(seconds=1))

    row = await claim(store)

    assert row.id == due.id
    assert row.state is JobState.PROCESSING
    [_, fetched] = await store.job_history(due.id)
    assert fetched.from_state is JobState.SCHEDULED


async def test_fetch_never_claims_awaiting_or_final_jobs(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store, state=JobState.AWAITING, run_at=utcnow() - timedelta(seconds=1))
    for state in (JobState.SUCCEEDED, JobState.FAILED):
        await insert_job(store)
        await finish(store, await claim(store), state)
    cancelled = await insert_job(store)
    await store.job_cancel(cancelled.id)

    assert await store.job_fetch_available(fetch()) == []


async def test_fetch_skips_jobs_claimed_by_another_worker(
    store: JobStore, insert_job: InsertJob
) -> None:
    first = await insert_job(store)
    second = await insert_job(store)

    by_a = await claim(store, worker_id="worker-a")
    by_b = await store.job_fetch_available(fetch("worker-b"))

    assert by_a.id == first.id
    assert [row.id for row in by_b] == [second.id]
    assert await store.job_fetch_available(fetch("worker-c")) == []


async def test_fetch_records_a_fetched_history_entry_with_the_worker(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)

    await claim(store, worker_id="worker-h")

    [_, entry] = await store.job_history(result.id)
    assert entry.from_state is JobState.ENQUEUED
    assert entry.to_state is JobState.PROCESSING
    assert entry.reason is StateChangeReason.FETCHED
    assert entry.worker == "worker-h"
    assert entry.attempt == 1


async def _drain_concurrently(fetchers: list[tuple[JobStore, str]]) -> list[int]:
    """Fetch in parallel rounds until every fetcher comes back empty; all claimed ids."""
    claimed: list[int] = []
    while True:
        rounds = await asyncio.gather(
            *(store.job_fetch_available(fetch(worker, limit=7)) for store, worker in fetchers)
        )
        for (_, worker), rows in zip(fetchers, rounds, strict=True):
            assert all(row.lease_owner == worker for row in rows)
        ids = [row.id for rows in rounds for row in rows]
        if not ids:
            return claimed
        claimed.extend(ids)


async def test_concurrent_fetchers_on_one_store_never_claim_the_same_job(
    store: JobStore,
) -> None:
    inserted = await store.job_insert_many([job_params() for _ in range(60)])

    claimed = await _drain_concurrently([(store, "worker-a"), (store, "worker-b")])

    assert sorted(claimed) == sorted(r.id for r in inserted)


async def test_concurrent_fetchers_on_separate_stores_never_claim_the_same_job(
    store: JobStore, backend: Backend
) -> None:
    other = await backend.open_store()
    inserted = await store.job_insert_many([job_params() for _ in range(60)])

    claimed = await _drain_concurrently(
        [(store, "worker-a"), (other, "worker-b"), (store, "worker-c"), (other, "worker-d")]
    )

    assert sorted(claimed) == sorted(r.id for r in inserted)
