from __future__ import annotations

from datetime import timedelta

import pytest

from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.storage.port import JobStore, StateCount
from tests.support.jobs import InsertJob, claim, finish, utcnow

pytestmark = pytest.mark.contract


async def test_count_by_state_is_empty_without_jobs(store: JobStore) -> None:
    assert await store.job_count_by_state() == []


async def test_count_by_state_groups_by_queue_and_state(
    store: JobStore, insert_job: InsertJob
) -> None:
    for _ in range(3):
        await insert_job(store, queue="ai")
    await insert_job(
        store, queue="ai", state=JobState.SCHEDULED, run_at=utcnow() + timedelta(hours=1)
    )
    await insert_job(store, queue="default")
    await insert_job(store, queue="default")
    await claim(store, queue="ai")
    await finish(store, await claim(store, queue="default"), JobState.FAILED)

    counts = await store.job_count_by_state()

    assert sorted(counts, key=lambda c: (c.queue, c.state)) == sorted(
        [
            StateCount("ai", JobState.ENQUEUED, 2),
            StateCount("ai", JobState.PROCESSING, 1),
            StateCount("ai", JobState.SCHEDULED, 1),
            StateCount("default", JobState.ENQUEUED, 1),
            StateCount("default", JobState.FAILED, 1),
        ],
        key=lambda c: (c.queue, c.state),
    )
    assert all(isinstance(c.state, JobState) and type(c.count) is int for c in counts)
