"""The storage port's web section on both backends: counters that match COUNT(*) after
every kind of write, throughput, queue heads, paused queues, users, tokens and search."""

from __future__ import annotations

from datetime import timedelta

import pytest

from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.storage.port import (
    JobBulkParams,
    JobFetchParams,
    JobSearchParams,
    JobStore,
    StateCount,
)
from tests.support.jobs import InsertJob, claim, finish, job_params, utcnow

pytestmark = pytest.mark.contract


async def _assert_counters_exact(store: JobStore) -> None:
    def key(c: StateCount) -> tuple[str, str]:
        return (c.queue, c.state.value)

    exact = sorted(await store.job_count_by_state(), key=key)
    assert sorted(await store.stat_count_by_state(), key=key) == exact


async def test_counters_follow_every_kind_of_write(store: JobStore, insert_job: InsertJob) -> None:
    await store.job_insert_many([job_params() for _ in range(70)])  # COPY on PostgreSQL
    await insert_job(store, queue="ai")
    await insert_job(store, state=JobState.SCHEDULED, run_at=utcnow() + timedelta(hours=1))
    await _assert_counters_exact(store)

    done = await claim(store)
    await finish(store, done)
    failed = await claim(store)
    await finish(store, failed, JobState.FAILED)
    processing = await claim(store)
    await store.job_cancel(processing.id)  # only flagged: still processing
    waiting = await insert_job(store, queue="ai")
    await store.job_cancel(waiting.id)
    await _assert_counters_exact(store)

    await store.job_retry(failed.id)
    await store.job_delete(done.id)
    await _assert_counters_exact(store)

    for _ in range(3):
        await finish(store, await claim(store), JobState.FAILED)
    assert len(await store.job_retry_many(JobBulkParams(states=[JobState.FAILED]))) == 3
    for _ in range(2):
        await finish(store, await claim(store), JobState.FAILED)
    assert len(await store.job_delete_many(JobBulkParams(states=[JobState.FAILED]))) == 2
    await _assert_counters_exact(store)


async def test_progress_updates_leave_counters_alone(
    store: JobStore, insert_job: InsertJob
) -> None:
    from medley.infrastructure.jobs.storage.port import ProgressUpdate

    await insert_job(store)
    row = await claim(store)
    await store.job_progress_update(
        "worker-a", [ProgressUpdate(id=row.id, attempt=row.attempt, fraction=0.5, message="x")]
    )

    await _assert_counters_exact(store)


async def test_throughput_counts_jobs_finishing_this_minute(
    store: JobStore, insert_job: InsertJob
) -> None:
    for _ in range(3):
        await insert_job(store)
    await finish(store, await claim(store))
    await finish(store, await claim(store))
    await finish(store, await claim(store), JobState.FAILED)

    rows = await store.stat_throughput(utcnow() - timedelta(minutes=5))

    totals = {state: 0 for state in (JobState.SUCCEEDED, JobState.FAILED)}
    for row in rows:
        totals[row.state] += row.count
        assert row.minute <= utcnow()
    assert totals == {JobState.SUCCEEDED: 2, JobState.FAILED: 1}


async def test_queue_heads_give_the_oldest_due_job_per_queue(
    store: JobStore, insert_job: InsertJob
) -> None:
    past = utcnow() - timedelta(minutes=10)
    await insert_job(store, queue="ai", priority=5, run_at=past + timedelta(minutes=5))
    await insert_job(store, queue="ai", priority=50, run_at=past)
    await insert_job(
        store, queue="later", state=JobState.SCHEDULED, run_at=utcnow() + timedelta(hours=1)
    )

    heads = {h.queue: h.oldest_due_at for h in await store.stat_queue_heads()}

    assert set(heads) == {"ai", "later"}
    assert heads["later"] is None
    assert heads["ai"] is not None
    assert abs(heads["ai"] - past) < timedelta(seconds=1)


async def test_a_paused_queue_is_not_fetched_until_resumed(
    store: JobStore, insert_job: InsertJob
) -> None:
    await insert_job(store, queue="ai")
    params = JobFetchParams(queue="ai", limit=10, worker_id="worker-a")

    await store.queue_set_paused("ai", True)
    assert await store.job_fetch_available(params) == []
    assert [(q.name, q.paused) for q in await store.queue_list()] == [("ai", True)]

    await store.queue_set_paused("ai", False)
    assert len(await store.job_fetch_available(params)) == 1


async def test_users_are_created_replaced_and_removed(store: JobStore) -> None:
    assert await store.user_count() == 0
    assert await store.user_upsert("ann", "hash-1", "viewer") is True
    assert await store.user_upsert("ann", "hash-2", "admin") is False

    user = await store.user_get("ann")

    assert user is not None
    assert (user.password_hash, user.role) == ("hash-2", "admin")
    assert await store.user_count() == 1
    assert await store.user_delete("ann") is True
    assert await store.user_delete("ann") is False
    assert await store.user_get("ann") is None


async def test_tokens_are_found_by_hash_and_revoked_once(store: JobStore) -> None:
    token_id = await store.token_insert("ci", "abc123", "viewer")

    found = await store.token_get_by_hash("abc123")

    assert found is not None
    assert (found.id, found.name, found.role, found.revoked_at) == (token_id, "ci", "viewer", None)
    assert await store.token_get_by_hash("other") is None
    assert await store.token_revoke(token_id) is True
    assert await store.token_revoke(token_id) is False
    revoked = await store.token_get_by_hash("abc123")
    assert revoked is not None
    assert revoked.revoked_at is not None
    assert [t.id for t in await store.token_list()] == [token_id]


async def test_job_search_filters_by_tag_name_state_and_pages_by_id(
    store: JobStore, insert_job: InsertJob
) -> None:
    tagged = [(await insert_job(store, tags=["doc-7", "ai"])).id for _ in range(3)]
    await insert_job(store, tags=["doc-8"])
    await insert_job(store, job="tests.other")

    by_tag = await store.job_search(JobSearchParams(tag="doc-7", limit=2))
    assert [r.id for r in by_tag] == sorted(tagged, reverse=True)[:2]
    rest = await store.job_search(JobSearchParams(tag="doc-7", before_id=by_tag[-1].id))
    assert [r.id for r in rest] == [min(tagged)]
    by_name = await store.job_search(JobSearchParams(job="tests.other"))
    assert [r.job for r in by_name] == ["tests.other"]
    by_state = await store.job_search(JobSearchParams(state=JobState.ENQUEUED, tag="ai"))
    assert len(by_state) == 3
    assert await store.job_search(JobSearchParams(tag="nope")) == []
