"""Continuations: a job inserted with `depends_on` waits in `awaiting`; whatever ends a
parent (completion, cancel, rescue, delete) releases or cancels it in the same write."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from medley.application.errors import InvalidArgumentsError
from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import (
    JobCompletion,
    JobFetchParams,
    JobInsertResult,
    JobListParams,
    JobRescueParams,
    JobRow,
    JobStore,
)
from tests.support.jobs import claim, finish, insert_job, utcnow

pytestmark = pytest.mark.contract


async def insert_child(store: JobStore, *parents: int, **overrides: Any) -> JobInsertResult:
    return await insert_job(store, state=JobState.AWAITING, depends_on=parents, **overrides)


async def get(store: JobStore, job_id: int) -> JobRow:
    row = await store.job_get(job_id)
    assert row is not None
    return row


async def test_a_continuation_waits_in_awaiting_until_its_parent_succeeds(store: JobStore) -> None:
    parent = await insert_job(store)
    child = await insert_child(store, parent.id)

    assert child.state is JobState.AWAITING
    row = await get(store, child.id)
    assert (row.depends_on, row.continue_on) == ([parent.id], "success")
    await finish(store, await claim(store))

    released = await get(store, child.id)
    assert released.state is JobState.ENQUEUED
    last = (await store.job_history(child.id))[-1]
    assert (last.from_state, last.to_state, last.reason) == (
        JobState.AWAITING,
        JobState.ENQUEUED,
        StateChangeReason.CONTINUED,
    )


async def test_a_continuation_is_fetched_only_once_released(store: JobStore) -> None:
    parent = await insert_job(store)
    child = await insert_child(store, parent.id)

    first = await store.job_fetch_available(
        JobFetchParams(queue="default", limit=10, worker_id="w")
    )
    assert [r.id for r in first] == [parent.id]
    await finish(store, first[0], worker_id="w")

    assert (await claim(store)).id == child.id


async def test_a_continuation_waits_for_every_parent(store: JobStore) -> None:
    a, b = await insert_job(store), await insert_job(store)
    child = await insert_child(store, a.id, b.id)

    await finish(store, await claim(store))
    assert (await get(store, child.id)).state is JobState.AWAITING
    await finish(store, await claim(store))

    assert (await get(store, child.id)).state is JobState.ENQUEUED


async def test_parents_finishing_in_one_batch_release_the_child_once(store: JobStore) -> None:
    a, b = await insert_job(store), await insert_job(store)
    child = await insert_child(store, a.id, b.id)
    rows = await store.job_fetch_available(JobFetchParams(queue="default", limit=2, worker_id="w"))
    done = [
        JobCompletion(id=r.id, attempt=r.attempt, state=JobState.SUCCEEDED,
                      reason=StateChangeReason.COMPLETED, result_json="null")
        for r in rows
    ]  # fmt: skip
    assert sorted(await store.job_set_state_if_processing("w", done)) == sorted([a.id, b.id])

    assert (await get(store, child.id)).state is JobState.ENQUEUED
    continued = [h for h in await store.job_history(child.id) if h.reason == "continued"]
    assert len(continued) == 1


async def test_parents_finishing_concurrently_release_the_child_exactly_once(
    store: JobStore,
) -> None:
    parents = [await insert_job(store) for _ in range(6)]
    child = await insert_child(store, *(p.id for p in parents))
    claimed = [await claim(store, worker_id=f"w{i}") for i in range(6)]

    await asyncio.gather(*(finish(store, row, worker_id=f"w{i}") for i, row in enumerate(claimed)))

    assert (await get(store, child.id)).state is JobState.ENQUEUED
    history = await store.job_history(child.id)
    assert [h.reason for h in history].count(StateChangeReason.CONTINUED) == 1


async def test_a_failed_parent_cancels_its_dependants_transitively_with_the_reason(
    store: JobStore,
) -> None:
    parent = await insert_job(store)
    child = await insert_child(store, parent.id)
    grandchild = await insert_child(store, child.id)

    await finish(store, await claim(store), JobState.FAILED)

    for job_id, cause in ((child.id, parent.id), (grandchild.id, child.id)):
        row = await get(store, job_id)
        assert row.state is JobState.CANCELLED
        assert row.finished_at is not None
        assert row.error is not None
        assert row.error["type"] == "DependencyFailedError"
        assert f"job {cause}, which this job depends on, ended" in row.error["message"]
        last = (await store.job_history(job_id))[-1]
        assert (last.to_state, last.reason) == (
            JobState.CANCELLED,
            StateChangeReason.DEPENDENCY_FAILED,
        )


async def test_continue_on_any_runs_after_a_failed_or_cancelled_parent(store: JobStore) -> None:
    parent = await insert_job(store)
    needs_success = await insert_child(store, parent.id)
    cleanup = await insert_child(store, parent.id, continue_on="any")
    after_cancelled = await insert_child(store, needs_success.id, continue_on="any")

    await finish(store, await claim(store), JobState.FAILED)

    assert (await get(store, needs_success.id)).state is JobState.CANCELLED
    assert (await get(store, cleanup.id)).state is JobState.ENQUEUED
    assert (await get(store, after_cancelled.id)).state is JobState.ENQUEUED


async def test_a_three_level_chain_runs_in_order(store: JobStore) -> None:
    first = await insert_job(store, args=[1])
    second = await insert_child(store, first.id, args=[2])
    third = await insert_child(store, second.id, args=[3])

    order = []
    for _ in range(3):
        row = await claim(store)
        order.append(row.args[0])
        await finish(store, row)

    assert order == [1, 2, 3]
    assert (await get(store, third.id)).state is JobState.SUCCEEDED


async def test_a_parent_already_final_settles_the_new_continuation_at_insert(
    store: JobStore,
) -> None:
    ok, bad = await insert_job(store), await insert_job(store)
    await finish(store, await claim(store))
    await finish(store, await claim(store), JobState.FAILED)

    runnable = await insert_child(store, ok.id)
    doomed = await insert_child(store, bad.id)

    assert runnable.state is JobState.ENQUEUED
    assert (await get(store, runnable.id)).state is JobState.ENQUEUED
    assert doomed.state is JobState.CANCELLED
    assert (await get(store, doomed.id)).state is JobState.CANCELLED


async def test_depends_on_an_unknown_job_is_refused_and_writes_nothing(store: JobStore) -> None:
    parent = await insert_job(store)

    with pytest.raises(InvalidArgumentsError, match="there is no job 999999"):
        await insert_child(store, parent.id, 999999)

    assert [r.id for r in await store.job_list(JobListParams(limit=100))] == [parent.id]


async def test_cancelling_an_awaiting_parent_cancels_its_dependants(store: JobStore) -> None:
    root = await insert_job(store)
    parent = await insert_child(store, root.id)
    child = await insert_child(store, parent.id)

    cancelled = await store.job_cancel(parent.id)

    assert cancelled is not None
    assert cancelled.state is JobState.CANCELLED
    assert (await get(store, child.id)).state is JobState.CANCELLED
    assert (await get(store, root.id)).state is JobState.ENQUEUED


async def test_deleting_a_waiting_parent_settles_its_dependants_as_cancelled(
    store: JobStore,
) -> None:
    parent = await insert_job(store)
    strict = await insert_child(store, parent.id)
    lenient = await insert_child(store, parent.id, continue_on="any")

    deleted = await store.job_delete(parent.id)

    assert deleted is not None
    assert await store.job_get(parent.id) is None
    assert (await get(store, strict.id)).state is JobState.CANCELLED
    assert (await get(store, lenient.id)).state is JobState.ENQUEUED


async def test_a_rescued_parent_that_fails_for_good_cancels_its_dependants(
    store: JobStore,
) -> None:
    parent = await insert_job(store, max_attempts=1)
    child = await insert_child(store, parent.id)
    await claim(store, worker_id="ghost")

    rescued = await store.job_rescue(
        JobRescueParams(lease_seconds=30, retry_at=lambda _attempt: utcnow())
    )

    assert [r.state for r in rescued] == [JobState.FAILED]
    assert (await get(store, child.id)).state is JobState.CANCELLED


async def test_a_retry_of_the_parent_does_not_release_a_child_twice(store: JobStore) -> None:
    parent = await insert_job(store)
    child = await insert_child(store, parent.id, continue_on="any")
    await finish(store, await claim(store), JobState.FAILED)
    assert (await get(store, child.id)).state is JobState.ENQUEUED
    await finish(store, await claim(store))  # the child runs

    await store.job_retry(parent.id)
    await finish(store, await claim(store))

    assert (await get(store, child.id)).state is JobState.SUCCEEDED
