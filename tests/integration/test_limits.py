"""Concurrency limits in the real worker runtime: keyed limits are fair between keys, and
a rescued job is not blocked by the slot its dead worker held."""

from __future__ import annotations

import pytest

import medley
from medley.infrastructure.jobs.maintenance.rescuer import JobRescuer
from medley.infrastructure.jobs.storage.port import LimitParams, ServerParams
from tests.integration import limit_jobs
from tests.support.jobs import claim, utcnow
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration

DEAD_WORKER = "dead-host:1:limits"


@pytest.fixture(autouse=True)
def _clear_events() -> None:
    limit_jobs.events.clear()


def peak_per_tenant() -> dict[str, int]:
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    for tenant, kind, _ in limit_jobs.events:
        running[tenant] = running.get(tenant, 0) + (1 if kind == "start" else -1)
        peak[tenant] = max(peak.get(tenant, 0), running[tenant])
    return peak


async def test_a_keyed_limit_caps_each_tenant_and_a_flood_does_not_starve_another(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    flood = [await service.enqueue(limit_jobs.tenant_work, "a", 0.1) for _ in range(8)]
    late = [await service.enqueue(limit_jobs.tenant_work, "b", 0.1) for _ in range(2)]
    await start_worker(concurrency=8)

    for job_id in [*flood, *late]:
        assert (await service.wait(job_id, timeout=20)).state is medley.JobState.SUCCEEDED

    assert peak_per_tenant() == {"a": limit_jobs.TENANT_MAX, "b": limit_jobs.TENANT_MAX}
    starts = [tenant for tenant, kind, _ in limit_jobs.events if kind == "start"]
    assert starts.index("b") < 4, f"tenant b waited behind tenant a's flood: {starts}"
    assert starts[:4].count("b") == 2, starts


async def test_a_keyed_limit_caps_each_tenant_of_a_bulk_enqueue(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    """A batch this large is written by COPY on PostgreSQL, which sends the limit's
    columns itself: its jobs must wait for their tenant's slots as single enqueues do."""
    calls = [(tenant, 0.02) for _ in range(40) for tenant in "ab"]
    ids = await service.enqueue_many(limit_jobs.tenant_work, calls)
    await start_worker(concurrency=8)

    for job_id in ids:
        assert (await service.wait(job_id, timeout=30)).state is medley.JobState.SUCCEEDED

    assert peak_per_tenant() == {"a": limit_jobs.TENANT_MAX, "b": limit_jobs.TENANT_MAX}


async def test_a_rescued_job_is_not_blocked_by_the_slot_its_dead_worker_held(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    store = service.store
    job_id = await service.enqueue(limit_jobs.one_at_a_time)
    await store.limit_upsert(LimitParams(name="it-one", max_running=1, source="code"))
    await store.server_heartbeat(
        ServerParams(
            id=DEAD_WORKER,
            hostname="dead-host",
            pid=1,
            queues=["default"],
            concurrency=1,
            running=1,
            cpu_percent=0.0,
            rss_bytes=0,
            started_at=utcnow(),
        )
    )
    row = await claim(store, worker_id=DEAD_WORKER)
    assert row.id == job_id
    [limit] = [r for r in await store.limit_list() if r.name == "it-one"]
    assert limit.running == 1, "the dead worker holds the only slot"
    rescuer = JobRescuer(store, lease_seconds=0.3, interval=1)

    async def rescued() -> bool:
        return (await rescuer.run_once()).rescued == 1

    await wait_for(rescued, timeout=5, interval=0.1, message="job rescued after the lease")

    await start_worker()
    done = await service.wait(job_id, timeout=10)
    assert done.state is medley.JobState.SUCCEEDED
    assert done.attempt == 2
