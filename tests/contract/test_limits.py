"""Global concurrency limits at the storage level: slots are taken by the claim and given
back by the write that ends `processing` (outcome, release, rescue)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import (
    JobCompletion,
    JobRescueParams,
    JobStore,
    LimitParams,
)
from tests.support.jobs import finish, job_params
from tests.support.limits import fetch, limited
from tests.support.wait import wait_for

pytestmark = pytest.mark.contract


async def running(store: JobStore, name: str) -> int:
    rows = {r.name: r for r in await store.limit_list()}
    return rows[name].running


async def test_fetch_claims_no_more_jobs_of_a_limit_than_it_has_room_for(
    store: JobStore,
) -> None:
    await store.limit_upsert(LimitParams(name="llm", max_running=2))
    await store.job_insert_many([limited("llm") for _ in range(5)])

    first = await store.job_fetch_available(fetch("worker-a"))
    second = await store.job_fetch_available(fetch("worker-b"))

    assert (len(first), len(second)) == (2, 0)
    assert await running(store, "llm") == 2


async def test_fetch_passes_over_a_full_limit_to_the_jobs_behind_it(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="llm", max_running=1))
    await store.job_insert_many([limited("llm", priority=1) for _ in range(3)])
    [free] = await store.job_insert_many([job_params(priority=50)])

    rows = await store.job_fetch_available(fetch(limit=10))

    assert len(rows) == 2
    assert free.id in {r.id for r in rows}


async def test_outcome_gives_the_slot_back(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="llm", max_running=1))
    await store.job_insert_many([limited("llm"), limited("llm")])
    [row] = await store.job_fetch_available(fetch())

    await finish(store, row)

    assert await running(store, "llm") == 0
    assert len(await store.job_fetch_available(fetch())) == 1


async def test_release_without_spending_an_attempt_gives_the_slot_back(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="llm", max_running=1))
    await store.job_insert_many([limited("llm")])
    [row] = await store.job_fetch_available(fetch())
    released = JobCompletion(
        id=row.id,
        attempt=row.attempt,
        state=JobState.ENQUEUED,
        reason=StateChangeReason.RELEASED,
        release=True,
    )

    assert await store.job_set_state_if_processing("worker-a", [released]) == [row.id]

    assert await running(store, "llm") == 0
    assert [r.id for r in await store.job_fetch_available(fetch())] == [row.id]


async def test_a_keyed_limit_holds_per_key(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="tenant", max_running=2))
    jobs = [limited("tenant", key="a") for _ in range(4)]
    jobs += [limited("tenant", key="b") for _ in range(4)]
    await store.job_insert_many(jobs)

    rows = await store.job_fetch_available(fetch(limit=10))

    by_key = sorted(r.meta["limit_key"] for r in rows)
    assert by_key == ["a", "a", "b", "b"]
    usage = await store.limit_usage("tenant")
    assert [(u.key, u.running) for u in usage] == [("a", 2), ("b", 2)]


async def test_a_job_of_an_undefined_limit_runs_unlimited(store: JobStore) -> None:
    await store.job_insert_many([limited("nowhere") for _ in range(3)])

    assert len(await store.job_fetch_available(fetch())) == 3


async def test_rescue_gives_the_dead_workers_slots_back(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="llm", max_running=1))
    [job] = await store.job_insert_many([limited("llm")])
    await store.job_fetch_available(fetch("worker-dead"))  # never heartbeats
    assert await store.job_fetch_available(fetch("worker-b")) == []

    rescued: list[int] = []

    async def rescued_once() -> bool:  # the tiny lease must pass on the database clock
        rescued.extend(r.id for r in await store.job_rescue(JobRescueParams(lease_seconds=0.01)))
        return bool(rescued)

    await wait_for(rescued_once, timeout=5, interval=0.02, message="the dead worker's job rescued")

    assert rescued == [job.id]
    assert await running(store, "llm") == 0
    assert [r.id for r in await store.job_fetch_available(fetch("worker-b"))] == [job.id]


async def test_concurrent_fetchers_never_exceed_the_limit(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="llm", max_running=3))
    await store.job_insert_many([limited("llm") for _ in range(20)])

    batches = await asyncio.gather(
        *(store.job_fetch_available(fetch(f"worker-{i}", limit=2)) for i in range(8))
    )

    assert sum(len(b) for b in batches) == 3


async def test_a_code_definition_never_replaces_one_set_at_run_time(store: JobStore) -> None:
    assert await store.limit_upsert(LimitParams(name="llm", max_running=3, source="code"))
    assert await store.limit_upsert(LimitParams(name="llm", max_running=5))

    assert not await store.limit_upsert(LimitParams(name="llm", max_running=3, source="code"))

    [row] = await store.limit_list()
    assert (row.name, row.max_running, row.source) == ("llm", 5, "runtime")


async def test_limit_delete_forgets_the_limit(store: JobStore) -> None:
    await store.limit_upsert(LimitParams(name="llm", max_running=0))
    await store.job_insert_many([limited("llm")])
    assert await store.job_fetch_available(fetch()) == []

    assert await store.limit_delete("llm")
    assert not await store.limit_delete("llm")

    assert len(await store.job_fetch_available(fetch())) == 1


async def test_jobs_claimed_ahead_are_never_limited_ones(store: JobStore) -> None:
    """`ahead` jobs wait in a worker before they start: a limited one would hold a slot of
    its limit without running. Only `limit` may include limited jobs."""
    await store.limit_upsert(LimitParams(name="llm", max_running=10))
    await store.job_insert_many([job_params(priority=1) for _ in range(2)])
    await store.job_insert_many([limited("llm", priority=5) for _ in range(4)])
    await store.job_insert_many([job_params(priority=9) for _ in range(2)])
    # A first claim learns that the queue holds limited jobs (as a worker's would).
    await store.job_fetch_available(fetch("worker-a", limit=1))

    params = fetch("worker-b", limit=2)
    rows = await store.job_fetch_available(replace(params, ahead=6))

    assert 1 <= sum(r.meta.get("limit") == "llm" for r in rows) <= 2
    assert await running(store, "llm") <= 2


async def test_a_queue_without_limited_jobs_may_be_claimed_ahead(
    store: JobStore, backend_name: str
) -> None:
    await store.job_insert_many([job_params() for _ in range(5)])

    rows = await store.job_fetch_available(replace(fetch(limit=1), ahead=3))

    # PostgreSQL claims the 3 ahead too; SQLite (allowed to claim fewer) only `limit`.
    assert len(rows) == (4 if backend_name == "postgres" else 1)
