from __future__ import annotations

from datetime import timedelta

import pytest

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import JobCompletion, JobListParams, JobStore
from tests.support.backends import Backend
from tests.support.jobs import (
    InsertJob,
    assert_same_instant,
    claim,
    finish,
    job_params,
    sample_error,
    utcnow,
)

pytestmark = pytest.mark.contract


async def test_insert_returns_an_id_and_the_state_of_each_job(store: JobStore) -> None:
    results = await store.job_insert_many(
        [
            job_params(),
            job_params(state=JobState.SCHEDULED, run_at=utcnow() + timedelta(hours=1)),
        ]
    )

    assert [r.state for r in results] == [JobState.ENQUEUED, JobState.SCHEDULED]
    assert [r.existing for r in results] == [False, False]
    assert len({r.id for r in results}) == 2


async def test_insert_of_nothing_returns_nothing(store: JobStore) -> None:
    assert await store.job_insert_many([]) == []


async def test_insert_stores_every_field(store: JobStore, insert_job: InsertJob) -> None:
    before = utcnow()

    result = await insert_job(
        store,
        job="tests.add",
        queue="ai",
        priority=7,
        args=[1, "two", {"three": 3}],
        kwargs={"flag": True, "nested": [1, None]},
        max_attempts=3,
        timeout_seconds=12.5,
        unique_key="document:7",
        tags=["alpha", "beta"],
    )

    row = await store.job_get(result.id)
    assert row is not None
    assert row.id == result.id
    assert row.job == "tests.add"
    assert row.queue == "ai"
    assert row.priority == 7
    assert row.state is JobState.ENQUEUED
    assert row.args == [1, "two", {"three": 3}]
    assert row.kwargs == {"flag": True, "nested": [1, None]}
    assert row.attempt == 0
    assert row.max_attempts == 3
    assert row.timeout_seconds == 12.5
    assert row.unique_key == "document:7"
    assert row.tags == ["alpha", "beta"]
    assert row.progress_fraction is None
    assert row.progress_message is None
    assert row.result is None
    assert row.error is None
    assert row.lease_owner is None
    assert row.cancel_requested is False
    assert row.started_at is None
    assert row.finished_at is None
    assert row.created_at.tzinfo is not None
    assert before - timedelta(seconds=5) <= row.created_at <= utcnow() + timedelta(seconds=5)
    assert before - timedelta(seconds=5) <= row.run_at <= utcnow() + timedelta(seconds=5)


async def test_job_get_returns_none_for_an_unknown_id(store: JobStore) -> None:
    assert await store.job_get(987_654_321) is None


async def test_insert_records_history_of_an_enqueued_job(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(store)

    [entry] = await store.job_history(result.id)
    assert entry.job_id == result.id
    assert entry.from_state is None
    assert entry.to_state is JobState.ENQUEUED
    assert entry.reason is StateChangeReason.ENQUEUED
    assert entry.attempt == 0
    assert entry.at.tzinfo is not None


async def test_insert_records_history_of_a_scheduled_job(
    store: JobStore, insert_job: InsertJob
) -> None:
    result = await insert_job(
        store, state=JobState.SCHEDULED, run_at=utcnow() + timedelta(minutes=5)
    )

    [entry] = await store.job_history(result.id)
    assert entry.from_state is None
    assert entry.to_state is JobState.SCHEDULED
    assert entry.reason is StateChangeReason.SCHEDULED


async def test_history_begins_with_the_state_a_job_was_created_in_after_it_moved_on(
    store: JobStore, insert_job: InsertJob
) -> None:
    """The creation entry is read from the job, not stored: it must still say
    `scheduled` once the job has been claimed and finished, at the job's creation time."""
    result = await insert_job(
        store, state=JobState.SCHEDULED, run_at=utcnow() - timedelta(seconds=1)
    )
    await finish(store, await claim(store))

    history = await store.job_history(result.id)
    job = await store.job_get(result.id)

    assert job is not None
    assert [(h.from_state, h.to_state, h.reason, h.attempt) for h in history] == [
        (None, JobState.SCHEDULED, StateChangeReason.SCHEDULED, 0),
        (JobState.SCHEDULED, JobState.PROCESSING, StateChangeReason.FETCHED, 1),
        (JobState.PROCESSING, JobState.SUCCEEDED, StateChangeReason.COMPLETED, 1),
    ]
    assert_same_instant(history[0].at, job.created_at)
    assert await store.job_history(result.id + 1000) == []


async def test_a_creation_entry_stored_by_an_earlier_version_is_not_shown_twice(
    store: JobStore, insert_job: InsertJob, backend: Backend
) -> None:
    result = await insert_job(store)
    backend.store_creation_history(result.id, "enqueued")
    await claim(store)

    history = await store.job_history(result.id)

    assert [(h.from_state, h.to_state) for h in history] == [
        (None, JobState.ENQUEUED),
        (JobState.ENQUEUED, JobState.PROCESSING),
    ]


async def test_insert_keeps_run_at_of_a_scheduled_job(
    store: JobStore, insert_job: InsertJob
) -> None:
    run_at = utcnow() + timedelta(hours=2)

    result = await insert_job(store, state=JobState.SCHEDULED, run_at=run_at)

    row = await store.job_get(result.id)
    assert row is not None
    assert row.state is JobState.SCHEDULED
    assert_same_instant(row.run_at, run_at)


async def test_insert_with_a_live_unique_key_returns_the_existing_job(
    store: JobStore, insert_job: InsertJob
) -> None:
    first = await insert_job(store, unique_key="report:1")

    second = await insert_job(store, unique_key="report:1", args=["other"])

    assert second.id == first.id
    assert second.existing is True
    assert second.state is JobState.ENQUEUED
    assert [r.id for r in await store.job_list(JobListParams())] == [first.id]


async def test_insert_with_a_unique_key_held_by_a_scheduled_job_returns_it(
    store: JobStore, insert_job: InsertJob
) -> None:
    first = await insert_job(
        store,
        unique_key="report:2",
        state=JobState.SCHEDULED,
        run_at=utcnow() + timedelta(hours=1),
    )

    second = await insert_job(store, unique_key="report:2")

    assert (second.id, second.state, second.existing) == (first.id, JobState.SCHEDULED, True)


async def test_insert_with_a_unique_key_held_by_a_processing_job_returns_it(
    store: JobStore, insert_job: InsertJob
) -> None:
    first = await insert_job(store, unique_key="report:3")
    await claim(store)

    second = await insert_job(store, unique_key="report:3")

    assert (second.id, second.state, second.existing) == (first.id, JobState.PROCESSING, True)


async def test_insert_repeating_a_unique_key_in_one_batch_creates_one_job(
    store: JobStore,
) -> None:
    results = await store.job_insert_many(
        [job_params(unique_key="same"), job_params(unique_key="same"), job_params()]
    )

    assert results[0].existing is False
    assert results[1].id == results[0].id
    assert results[1].existing is True
    assert results[2].existing is False
    assert len(await store.job_list(JobListParams())) == 2


async def test_insert_frees_a_unique_key_once_its_job_is_final(
    store: JobStore, insert_job: InsertJob
) -> None:
    first = await insert_job(store, unique_key="report:4")
    await finish(store, await claim(store))

    again = await insert_job(store, unique_key="report:4")

    assert again.id != first.id
    assert again.existing is False
    assert again.state is JobState.ENQUEUED


async def test_insert_of_a_large_batch_stores_every_job_in_input_order(store: JobStore) -> None:
    params = [job_params(args=[i], kwargs={"n": i}, queue=f"q{i % 3}") for i in range(1000)]

    results = await store.job_insert_many(params)

    assert len(results) == 1000
    assert len({r.id for r in results}) == 1000
    assert all(r.state is JobState.ENQUEUED and not r.existing for r in results)
    rows = {row.id: row for row in await store.job_list(JobListParams(limit=1000))}
    assert set(rows) == {r.id for r in results}
    for i, result in enumerate(results):
        row = rows[result.id]
        assert (row.args, row.kwargs, row.queue) == ([i], {"n": i}, f"q{i % 3}")
    [history] = await store.job_history(results[500].id)
    assert history.to_state is JobState.ENQUEUED


async def test_a_large_batch_keeps_its_ids_when_others_draw_ids_in_between(
    store: JobStore, backend: Backend
) -> None:
    """Ids drawn for a batch need not be one run (PostgreSQL: other sessions draw from the
    same sequence meanwhile); each job must still get, and report, an id of its own."""
    backend.spread_job_ids(3)
    try:
        results = await store.job_insert_many([job_params(args=[i]) for i in range(100)])
    finally:
        backend.spread_job_ids(1)

    ids = [r.id for r in results]
    assert len(set(ids)) == 100
    for i, job_id in enumerate(ids):
        row = await store.job_get(job_id)
        assert row is not None
        assert row.args == [i]


async def test_insert_of_a_large_batch_stores_every_field_and_awkward_text(
    store: JobStore,
) -> None:
    # Large batches take a different path (COPY on PostgreSQL): it must store exactly
    # what the one-job path stores, whatever the text holds.
    awkward = 'tab\there, new\nline, cr\r, back\\slash \\N, quote ", é, 😀'
    params = [
        job_params(
            job=f"tests.{awkward}",
            queue=f"q\t{i % 2}",
            priority=i % 5,
            args=[i, awkward, {"k": awkward}],
            kwargs={awkward: [awkward, None]},
            max_attempts=4,
            timeout_seconds=1.5 if i % 2 else None,
            tags=[awkward, "plain"] if i % 3 else [],
            meta={"request_id": awkward} if i % 4 else {},
        )
        for i in range(100)
    ]

    results = await store.job_insert_many(params)

    for p, result in zip(params, results, strict=True):
        row = await store.job_get(result.id)
        assert row is not None
        assert (row.job, row.queue, row.priority, row.state) == (
            p.job,
            p.queue,
            p.priority,
            JobState.ENQUEUED,
        )
        assert (row.args, row.kwargs, row.tags, row.meta) == (
            p.args,
            p.kwargs,
            list(p.tags),
            p.meta,
        )
        assert (row.max_attempts, row.timeout_seconds, row.unique_key) == (
            4,
            p.timeout_seconds,
            None,
        )
    [history] = await store.job_history(results[7].id)
    assert (history.to_state, history.reason, history.attempt) == (
        JobState.ENQUEUED,
        StateChangeReason.ENQUEUED,
        0,
    )


async def test_insert_of_a_large_batch_keeps_scheduled_jobs_scheduled(store: JobStore) -> None:
    run_at = utcnow() + timedelta(hours=1)
    params = [job_params(state=JobState.SCHEDULED, run_at=run_at) for _ in range(200)]

    results = await store.job_insert_many(params)

    row = await store.job_get(results[-1].id)
    assert row is not None
    assert row.state is JobState.SCHEDULED
    assert_same_instant(row.run_at, run_at)
    [history] = await store.job_history(results[-1].id)
    assert history.reason is StateChangeReason.SCHEDULED


async def test_insert_batch_mixing_held_and_free_unique_keys_inserts_only_the_free_ones(
    store: JobStore, insert_job: InsertJob
) -> None:
    held = await insert_job(store, unique_key="held")

    results = await store.job_insert_many(
        [job_params(unique_key="free"), job_params(unique_key="held"), job_params()]
    )

    assert results[0].existing is False
    assert (results[1].id, results[1].existing) == (held.id, True)
    assert results[2].existing is False
    assert len({held.id, *(r.id for r in results)}) == 3
    assert len(await store.job_history(held.id)) == 1


async def test_insert_keeps_a_unique_key_held_while_its_job_waits_for_a_retry(
    store: JobStore, insert_job: InsertJob
) -> None:
    first = await insert_job(store, unique_key="report:5")
    row = await claim(store)
    await store.job_set_state_if_processing(
        row.lease_owner or "",
        [
            JobCompletion(
                id=row.id,
                attempt=row.attempt,
                state=JobState.SCHEDULED,
                reason=StateChangeReason.RETRIED,
                error=sample_error(),
                run_at=utcnow() + timedelta(minutes=5),
            )
        ],
    )

    again = await insert_job(store, unique_key="report:5")

    assert (again.id, again.state, again.existing) == (first.id, JobState.SCHEDULED, True)


async def test_insert_of_a_large_batch_with_unique_keys_returns_ids_in_input_order(
    store: JobStore,
) -> None:
    params = [job_params(args=[i], unique_key=f"key-{i}") for i in range(300)]

    results = await store.job_insert_many(params)

    rows = {row.id: row for row in await store.job_list(JobListParams(limit=300))}
    assert [rows[r.id].args for r in results] == [[i] for i in range(300)]
    assert [rows[r.id].unique_key for r in results] == [f"key-{i}" for i in range(300)]
