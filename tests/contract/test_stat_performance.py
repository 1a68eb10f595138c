"""`stat_job_performance`: per job, counts by final state, retries, and nearest-rank
percentiles of run time and queue wait, the same on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import JobCompletion, JobStore, StatWindowParams
from tests.support.backends import Backend
from tests.support.jobs import DEFAULT_WORKER, claim, finish, insert_job, sample_error, utcnow

pytestmark = pytest.mark.contract


async def run(store: JobStore, job: str, state: JobState = JobState.SUCCEEDED, **kw: object) -> int:
    await insert_job(store, job=job, **kw)
    row = await claim(store, queue=str(kw.get("queue", "default")))
    await finish(store, row, state)
    return row.id


async def test_percentiles_are_nearest_rank_over_succeeded_jobs(
    store: JobStore, backend: Backend
) -> None:
    for seconds in range(1, 21):  # run times 1..20 s, waits 0.5..10 s
        job_id = await run(store, "app.a")
        backend.set_job_times(job_id, run_seconds=seconds, wait_seconds=seconds / 2)
    failed = await run(store, "app.a", JobState.FAILED)
    backend.set_job_times(failed, run_seconds=1000, wait_seconds=0)

    [row] = await store.stat_job_performance(
        StatWindowParams(since=utcnow() - timedelta(minutes=5))
    )

    assert (row.job, row.succeeded, row.failed, row.cancelled) == ("app.a", 20, 1, 0)
    assert row.run_p50 == pytest.approx(10)  # rank ceil(0.5 * 20) = 10
    assert row.run_p95 == pytest.approx(19)  # rank ceil(0.95 * 20) = 19
    assert row.run_p99 == pytest.approx(20)
    assert row.run_max == pytest.approx(20)  # the failed attempt's 1000 s is not latency
    assert row.wait_p50 == pytest.approx(5)  # 21 waits: 0, 0.5 .. 10 -> rank 11 = 5.0
    assert row.wait_p95 == pytest.approx(9.5)


async def test_counts_by_final_state_and_retries_per_job(store: JobStore) -> None:
    await run(store, "app.a")
    await run(store, "app.a", JobState.CANCELLED)
    await run(store, "app.b", JobState.FAILED)
    await insert_job(store, job="app.b", queue="other")  # still enqueued: not counted
    await insert_job(store, job="app.c")
    first = await claim(store)
    retry = JobCompletion(
        id=first.id,
        attempt=first.attempt,
        state=JobState.SCHEDULED,
        reason=StateChangeReason.RETRIED,
        error=sample_error(),
        run_at=utcnow() - timedelta(seconds=1),
    )
    assert await store.job_set_state_if_processing(DEFAULT_WORKER, [retry]) == [first.id]
    await finish(store, await claim(store))

    rows = await store.stat_job_performance(StatWindowParams(since=utcnow() - timedelta(minutes=5)))

    counts = {r.job: (r.succeeded, r.failed, r.cancelled, r.retries) for r in rows}
    assert counts == {"app.a": (1, 0, 1, 0), "app.b": (0, 1, 0, 0), "app.c": (1, 0, 0, 1)}


async def test_window_and_filters(store: JobStore) -> None:
    await run(store, "app.a")
    await run(store, "app.b", queue="ai")

    recent = StatWindowParams(since=utcnow() - timedelta(minutes=5))
    later = StatWindowParams(since=utcnow() + timedelta(minutes=5))
    only_ai = StatWindowParams(since=recent.since, queue="ai")
    only_a = StatWindowParams(since=recent.since, job="app.a")

    assert await store.stat_job_performance(later) == []
    assert [r.job for r in await store.stat_job_performance(only_ai)] == ["app.b"]
    assert [r.job for r in await store.stat_job_performance(only_a)] == ["app.a"]
    assert len(await store.stat_job_performance(recent)) == 2
