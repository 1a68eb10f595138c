"""Batches: counters kept by the writes that end members, callbacks released exactly once
by the write that ends the last one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from medley.application.errors import BatchClosedError, BatchNotFoundError
from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import (
    BatchInsertParams,
    BatchInsertResult,
    BatchRow,
    JobCompletion,
    JobFetchParams,
    JobStore,
)
from tests.support.backends import Backend
from tests.support.jobs import claim, finish, job_params

pytestmark = pytest.mark.contract


def callback(**overrides: Any) -> Any:
    return job_params(job="tests.callback", state=JobState.AWAITING, **overrides)


async def make_batch(store: JobStore, size: int, **overrides: Any) -> BatchInsertResult:
    return await store.batch_insert(
        BatchInsertParams(
            jobs=[job_params(args=[i]) for i in range(size)],
            on_complete=callback(kwargs={"batch": None}),
            on_success=callback(kwargs={"batch": None}),
            **overrides,
        )
    )


async def batch(store: JobStore, batch_id: int) -> BatchRow:
    row = await store.batch_get(batch_id)
    assert row is not None
    return row


async def test_batch_insert_stores_members_and_awaiting_callbacks(store: JobStore) -> None:
    result = await make_batch(store, 3, description="three")

    row = await batch(store, result.id)
    assert (row.total, row.pending, row.description) == (3, 3, "three")
    assert row.finished_at is None
    for member in result.jobs:
        stored = await store.job_get(member.id)
        assert stored is not None
        assert (stored.state, stored.batch_id, stored.batch_pending) == (
            JobState.ENQUEUED,
            result.id,
            True,
        )
    for callback_id in (result.on_complete_id, result.on_success_id):
        assert callback_id is not None
        stored = await store.job_get(callback_id)
        assert stored is not None
        assert stored.state is JobState.AWAITING


async def test_progress_counts_each_final_outcome_once(store: JobStore) -> None:
    result = await make_batch(store, 3)

    await finish(store, await claim(store))
    await finish(store, await claim(store), JobState.FAILED)

    row = await batch(store, result.id)
    assert (row.pending, row.succeeded, row.failed, row.cancelled) == (1, 1, 1, 0)
    assert row.finished_at is None


async def test_the_last_member_releases_on_complete_with_the_summary(store: JobStore) -> None:
    result = await make_batch(store, 2)

    await finish(store, await claim(store))
    await finish(store, await claim(store))

    row = await batch(store, result.id)
    assert row.finished_at is not None
    assert result.on_complete_id is not None
    assert result.on_success_id is not None
    for callback_id in (result.on_complete_id, result.on_success_id):
        released = await store.job_get(callback_id)
        assert released is not None
        assert released.state is JobState.ENQUEUED
        assert released.kwargs["batch"] == {
            "id": result.id,
            "total": 2,
            "succeeded": 2,
            "failed": 0,
            "cancelled": 0,
        }
        last = (await store.job_history(callback_id))[-1]
        assert last.reason is StateChangeReason.CONTINUED


async def test_a_failure_cancels_on_success_but_still_runs_on_complete(store: JobStore) -> None:
    result = await make_batch(store, 2)

    await finish(store, await claim(store), JobState.FAILED)
    await finish(store, await claim(store))

    assert result.on_complete_id is not None
    assert result.on_success_id is not None
    complete = await store.job_get(result.on_complete_id)
    success = await store.job_get(result.on_success_id)
    assert complete is not None
    assert success is not None
    assert complete.state is JobState.ENQUEUED
    assert success.state is JobState.CANCELLED
    assert success.error is not None
    assert "1 failed" in success.error["message"]


async def test_cancelling_a_member_counts_it_as_cancelled(store: JobStore) -> None:
    result = await make_batch(store, 1)

    await store.job_cancel(result.jobs[0].id)

    row = await batch(store, result.id)
    assert (row.cancelled, row.pending) == (1, 0)
    assert row.finished_at is not None


async def test_a_member_adds_work_to_its_running_batch(store: JobStore) -> None:
    result = await make_batch(store, 1)
    running = await claim(store)

    added = await store.batch_add(result.id, [job_params(args=["more"]) for _ in range(2)])
    await finish(store, running)

    row = await batch(store, result.id)
    assert (row.total, row.pending, row.succeeded) == (3, 2, 1)
    assert row.finished_at is None
    for member in added:
        stored = await store.job_get(member.id)
        assert stored is not None
        assert stored.batch_id == result.id
    await finish(store, await claim(store))
    await finish(store, await claim(store))
    assert (await batch(store, result.id)).finished_at is not None


async def test_a_finished_batch_takes_no_more_jobs(store: JobStore) -> None:
    result = await make_batch(store, 1)
    await finish(store, await claim(store))

    with pytest.raises(BatchClosedError):
        await store.batch_add(result.id, [job_params()])
    with pytest.raises(BatchNotFoundError):
        await store.batch_add(999999, [job_params()])
    assert await store.batch_get(999999) is None


async def test_a_batch_of_1000_releases_its_callback_exactly_once(
    store: JobStore, backend: Backend
) -> None:
    result = await make_batch(store, 1000)
    stores = [store, await backend.open_store(), await backend.open_store()]

    async def drain(worker: str, own: JobStore) -> None:
        while rows := await own.job_fetch_available(
            JobFetchParams(queue="default", limit=50, worker_id=worker)
        ):
            done = [
                JobCompletion(id=r.id, attempt=r.attempt, state=JobState.SUCCEEDED,
                              reason=StateChangeReason.COMPLETED, result_json="null")
                for r in rows
            ]  # fmt: skip
            assert len(await own.job_set_state_if_processing(worker, done)) == len(done)

    await asyncio.gather(*(drain(f"w{i}", s) for i, s in enumerate(stores)))

    row = await batch(store, result.id)
    assert (row.succeeded, row.pending) == (1000, 0)
    assert result.on_complete_id is not None
    history = await store.job_history(result.on_complete_id)
    assert [h.reason for h in history].count(StateChangeReason.CONTINUED) == 1
    callback_row = await store.job_get(result.on_complete_id)
    assert callback_row is not None
    assert callback_row.kwargs["batch"]["succeeded"] == 1000
