"""Per-queue slots and queue priority modes on the real worker, both backends: a capped
queue never holds more than its cap, the total still caps the sum, the heartbeat reports
slot use, strict order drains the first queue first, and weighted order lets a lower
queue through a flood of the higher one in proportion to the weights."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import medley
from medley.application.models.servers import QueueSlots
from tests.integration import resource_jobs
from tests.integration.jobs import gate
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _reset_resource_jobs() -> Iterator[None]:
    resource_jobs.reset()
    yield
    resource_jobs.reset()


async def _enqueue(
    service: medley.JobService, queue: str, count: int, gate_name: str = ""
) -> list[int]:
    options = medley.JobOptions(queue=queue)
    return [
        await service.enqueue_with(resource_jobs.hold, queue, gate_name, options=options)
        for _ in range(count)
    ]


async def _wait_all(service: medley.JobService, ids: list[int]) -> None:
    for job_id in ids:
        info = await service.wait(job_id, timeout=20)
        assert info.state is medley.JobState.SUCCEEDED, info


async def test_a_queue_never_runs_more_than_its_slots_and_the_heartbeat_reports_them(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    ids = await _enqueue(service, "ai", 6, "open") + await _enqueue(service, "default", 6, "open")
    worker = await start_worker(queues=["ai:2", "default:3"], concurrency=0)
    assert worker.config.concurrency == 5  # no --concurrency: the sum of the caps

    running = resource_jobs.running
    await wait_for(lambda: (running["ai"], running["default"]) == (2, 3), timeout=10)
    expected = {"ai": QueueSlots(busy=2, max=2), "default": QueueSlots(busy=3, max=3)}

    async def heartbeat_reports_slots() -> bool:
        [server] = await service.server_list()
        return server.slots == expected

    await wait_for(heartbeat_reports_slots, timeout=10)
    [server] = await service.server_list()
    assert (server.queues, server.concurrency, server.running) == (["ai", "default"], 5, 5)
    gate("open").set()
    await _wait_all(service, ids)
    assert (resource_jobs.peak["ai"], resource_jobs.peak["default"]) == (2, 3)


async def test_the_worker_total_caps_the_sum_of_queue_slots(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    ids = await _enqueue(service, "ai", 4, "open") + await _enqueue(service, "default", 4, "open")
    worker = await start_worker(queues=["ai:3", "default:3"], concurrency=4)

    await wait_for(lambda: len(worker.producer.running) == 4, timeout=10)
    # Claimed is not yet started: wait until the four job bodies have counted themselves.
    await wait_for(lambda: sum(resource_jobs.running.values()) == 4, timeout=10)
    # The first queue takes its cap, the second the rest of the total.
    assert (resource_jobs.running["ai"], resource_jobs.running["default"]) == (3, 1)
    gate("open").set()
    await _wait_all(service, ids)
    assert resource_jobs.peak["ai"] <= 3
    assert resource_jobs.peak["default"] <= 3


async def test_strict_order_drains_the_first_queue_before_the_next(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    ids = await _enqueue(service, "low", 5) + await _enqueue(service, "high", 5)
    await start_worker(queues=["high", "low"], concurrency=1)

    await _wait_all(service, ids)

    assert resource_jobs.started == ["high"] * 5 + ["low"] * 5


async def test_weighted_order_starts_low_jobs_while_high_is_flooded(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    ids = await _enqueue(service, "high", 30) + await _enqueue(service, "low", 10)
    await start_worker(queues=["high@3", "low@1"], queue_mode="weighted", concurrency=1)

    await wait_for(lambda: len(resource_jobs.started) >= 20, timeout=20)

    first = resource_jobs.started[:20]
    assert 4 <= first.count("low") <= 6  # weights 3:1 -> a quarter of the starts
    assert first.index("low") < 4  # no waiting for the 30 high jobs to drain
    await _wait_all(service, ids)


async def test_a_job_cancelled_before_its_task_first_ran_gives_its_slot_back(
    service: medley.JobService, backend_name: str
) -> None:
    # A cancel that reaches the producer between a claim and the job task's first step
    # (a notification handler or the heartbeat's reconcile, run in that gap) cancels a
    # coroutine that never started: its `finally` never ran, so the job stayed in
    # `running` and kept its queue slot for good, and no outcome was written.
    from medley.infrastructure.jobs.runtime.server import WorkerServer
    from tests.support.workers import fast_config

    doomed = (await _enqueue(service, "ai", 1))[0]
    servers: list[WorkerServer] = []

    def cancel_at_once(row: object) -> None:
        if getattr(row, "id", None) == doomed:
            servers[0].producer.request_cancel(doomed)

    config = fast_config(backend_name, queues=["ai:1"], concurrency=0)
    server = WorkerServer(service.store, config=config, on_job_started=cancel_at_once)
    servers.append(server)
    await server.start()
    try:
        assert (await service.wait(doomed, timeout=10)).state is medley.JobState.CANCELLED
        await wait_for(lambda: not server.producer.running, timeout=10, message="running")
        assert server.producer.slots.busy["ai"] == 0
        after = await _enqueue(service, "ai", 1)
        server.wake()
        await _wait_all(service, after)  # the queue's only slot is free again
    finally:
        await server.stop(grace=0.5)
