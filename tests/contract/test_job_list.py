from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.storage.port import JobListParams, JobSearchParams, JobStore
from tests.support.jobs import InsertJob, claim, finish, job_params, utcnow

pytestmark = pytest.mark.contract


async def test_list_returns_jobs_newest_first(store: JobStore, insert_job: InsertJob) -> None:
    ids = [(await insert_job(store, args=[i])).id for i in range(4)]

    rows = await store.job_list(JobListParams())

    assert [row.id for row in rows] == sorted(ids, reverse=True)


async def test_list_is_empty_without_jobs(store: JobStore) -> None:
    assert await store.job_list(JobListParams()) == []


async def test_list_respects_the_limit(store: JobStore) -> None:
    results = await store.job_insert_many([job_params() for _ in range(5)])

    rows = await store.job_list(JobListParams(limit=2))

    assert [row.id for row in rows] == sorted((r.id for r in results), reverse=True)[:2]


async def test_list_returns_fifty_jobs_by_default(store: JobStore) -> None:
    await store.job_insert_many([job_params() for _ in range(55)])

    assert len(await store.job_list(JobListParams())) == 50


async def test_list_filters_by_state_queue_and_job(store: JobStore, insert_job: InsertJob) -> None:
    plain = await insert_job(store, job="tests.a", queue="default")
    other_queue = await insert_job(store, job="tests.a", queue="ai")
    other_job = await insert_job(store, job="tests.b", queue="default")
    scheduled = await insert_job(
        store,
        job="tests.a",
        queue="default",
        state=JobState.SCHEDULED,
        run_at=utcnow() + timedelta(hours=1),
    )
    processing = await insert_job(store, job="tests.b", queue="ai")
    await claim(store, queue="ai")  # claims other_queue: same priority, lower id
    await claim(store, queue="ai")

    async def ids(**filters: Any) -> list[int]:
        return [row.id for row in await store.job_list(JobListParams(**filters))]

    assert await ids(state=JobState.ENQUEUED) == [other_job.id, plain.id]
    assert await ids(state=JobState.SCHEDULED) == [scheduled.id]
    assert await ids(state=JobState.PROCESSING) == [processing.id, other_queue.id]
    assert await ids(queue="ai") == [processing.id, other_queue.id]
    assert await ids(job="tests.b") == [processing.id, other_job.id]
    assert await ids(queue="default", job="tests.a") == [scheduled.id, plain.id]
    assert await ids(state=JobState.ENQUEUED, queue="default", job="tests.b") == [other_job.id]
    assert await ids(state=JobState.FAILED) == []
    assert await ids(queue="nowhere") == []


async def test_list_pages_with_before_id_cover_every_job_once(store: JobStore) -> None:
    results = await store.job_insert_many([job_params(args=[i]) for i in range(23)])
    seen: list[int] = []
    before_id: int | None = None

    for _ in range(10):
        page = await store.job_list(JobListParams(before_id=before_id, limit=5))
        if not page:
            break
        assert len(page) <= 5
        seen.extend(row.id for row in page)
        before_id = page[-1].id

    assert seen == sorted((r.id for r in results), reverse=True)


async def test_list_pages_with_filters_cover_every_matching_job_once(store: JobStore) -> None:
    results = await store.job_insert_many(
        [job_params(queue="ai" if i % 2 else "default") for i in range(20)]
    )
    seen: list[int] = []
    before_id: int | None = None

    while page := await store.job_list(JobListParams(queue="ai", before_id=before_id, limit=3)):
        seen.extend(row.id for row in page)
        before_id = page[-1].id
        assert len(seen) <= 10

    expected = [r.id for i, r in enumerate(results) if i % 2]
    assert seen == sorted(expected, reverse=True)


async def _one_name_in_every_state(store: JobStore, insert_job: InsertJob) -> list[int]:
    """Jobs of one name in the backlog (with and without a limit, due and not) and out of
    it (processing, succeeded, failed), interleaved by id; their ids newest first. Other
    names' jobs sit between them."""
    ids = []
    for state in ("done", "enqueued", "limited", "failed", "scheduled", "processing"):
        await insert_job(store, job="tests.other")
        if state == "scheduled":
            later = utcnow() + timedelta(hours=1)
            row = await insert_job(store, state=JobState.SCHEDULED, run_at=later)
        elif state == "limited":
            row = await insert_job(store, meta={"limit": "gpu"})
        else:
            row = await insert_job(store, queue=state if state != "enqueued" else "default")
            if state in ("done", "failed", "processing"):
                claimed = await claim(store, queue=state)
                if state != "processing":
                    await finish(
                        store, claimed, JobState.FAILED if state == "failed" else JobState.SUCCEEDED
                    )
        ids.append(row.id)
    return sorted(ids, reverse=True)


async def test_a_job_name_lists_its_jobs_in_and_out_of_the_backlog_page_by_page(
    store: JobStore, insert_job: InsertJob
) -> None:
    expected = await _one_name_in_every_state(store, insert_job)

    for search in (False, True):
        seen: list[int] = []
        before_id: int | None = None
        while True:
            if search:
                page = await store.job_search(
                    JobSearchParams(job="tests.noop", before_id=before_id, limit=2)
                )
            else:
                page = await store.job_list(
                    JobListParams(job="tests.noop", before_id=before_id, limit=2)
                )
            if not page:
                break
            assert len(page) <= 2
            seen.extend(row.id for row in page)
            before_id = page[-1].id
        assert seen == expected


async def test_a_backlog_state_lists_jobs_with_and_without_a_limit(
    store: JobStore, insert_job: InsertJob
) -> None:
    free = [(await insert_job(store)).id for _ in range(2)]
    limited = [(await insert_job(store, meta={"limit": "gpu"})).id for _ in range(2)]
    free.append((await insert_job(store)).id)

    newest_three = await store.job_list(JobListParams(state=JobState.ENQUEUED, limit=3))
    rest = await store.job_search(
        JobSearchParams(state=JobState.ENQUEUED, before_id=newest_three[-1].id)
    )

    assert [r.id for r in [*newest_three, *rest]] == sorted(free + limited, reverse=True)
    of_one_name = await store.job_list(JobListParams(state=JobState.ENQUEUED, job="tests.noop"))
    assert len(of_one_name) == 5
