"""Continuations, batches and recurring jobs through real `WorkerServer`s, both backends."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Literal

import pytest

import medley
from medley.application.models.jobs import JobFilter, JobState, StateChangeReason
from medley.infrastructure.jobs.registry import DEFAULT_REGISTRY
from tests.integration import workflow_jobs as wf
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _reset_workflow_jobs() -> Iterator[None]:
    wf.reset()
    yield
    wf.reset()


def after(*parents: int, continue_on: Literal["success", "any"] = "success") -> medley.JobOptions:
    return medley.JobOptions(depends_on=parents, continue_on=continue_on)


async def test_a_three_level_chain_runs_each_step_after_the_last(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()
    first = await service.enqueue(wf.step, 1)
    second = await service.enqueue_with(wf.step, 2, options=after(first))
    third = await service.enqueue_with(wf.step, 3, options=after(second))

    infos = [await service.wait(job_id, timeout=10) for job_id in (first, second, third)]

    assert [i.state for i in infos] == [JobState.SUCCEEDED] * 3
    assert [i.result for i in infos] == [1, 2, 3]
    for before, later in itertools.pairwise(infos):
        assert before.finished_at is not None
        assert later.started_at is not None
        assert later.started_at >= before.finished_at
    assert infos[2].depends_on == [second]
    assert infos[2].history[1].reason is StateChangeReason.CONTINUED


async def test_a_failed_parent_cancels_the_chain_below_it_and_any_runs_anyway(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()
    parent = await service.enqueue(wf.fail)
    child = await service.enqueue_with(wf.step, 1, options=after(parent))
    grandchild = await service.enqueue_with(wf.step, 2, options=after(child))
    cleanup = await service.enqueue_with(wf.step, 3, options=after(child, continue_on="any"))

    cancelled = [await service.wait(j, timeout=10) for j in (child, grandchild)]
    ran = await service.wait(cleanup, timeout=10)

    assert [c.state for c in cancelled] == [JobState.CANCELLED, JobState.CANCELLED]
    assert cancelled[0].error is not None
    assert cancelled[0].error.message == f"job {parent}, which this job depends on, ended failed"
    assert (ran.state, ran.result) == (JobState.SUCCEEDED, 3)


async def test_cancelling_a_waiting_job_cascades_to_its_dependants(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    blocker = await service.enqueue_with(
        wf.step, 0, options=medley.JobOptions(delay=timedelta(hours=1))
    )
    middle = await service.enqueue_with(wf.step, 1, options=after(blocker))
    leaf = await service.enqueue_with(wf.step, 2, options=after(middle))
    await start_worker()

    await service.cancel(blocker)

    assert (await service.get(middle)).state is JobState.CANCELLED
    assert (await service.get(leaf)).state is JobState.CANCELLED


async def test_a_batch_of_1000_runs_its_callback_exactly_once(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(concurrency=50)
    request = medley.BatchRequest(
        jobs=tuple(medley.EnqueueRequest(job="itw.step", args=(i,)) for i in range(1000)),
        on_complete=medley.EnqueueRequest(job="itw.on_batch_done"),
        on_success=medley.EnqueueRequest(job="itw.on_batch_done"),
    )

    submitted = await service.submit_batch(request)
    done = await service.wait_batch(submitted.id, timeout=45)
    assert submitted.on_complete_id is not None
    callback = await service.wait(submitted.on_complete_id, timeout=10)
    await service.wait(submitted.on_success_id or 0, timeout=10)

    assert (done.total, done.succeeded, done.done, done.progress.fraction) == (
        1000,
        1000,
        1000,
        1.0,
    )
    assert callback.result == 1000
    assert (
        wf.summaries
        == [{"id": submitted.id, "total": 1000, "succeeded": 1000, "failed": 0, "cancelled": 0}] * 2
    )  # on_complete and on_success, once each
    page = await service.list(JobFilter(job="itw.on_batch_done"), limit=10)
    assert len(page.items) == 2


async def test_a_job_fans_out_into_its_own_batch_while_running(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    wf.service = service
    await start_worker()
    request = medley.BatchRequest(
        jobs=(medley.EnqueueRequest(job="itw.fan_out", args=(5,)),),
        on_complete=medley.EnqueueRequest(job="itw.on_batch_done"),
    )

    submitted = await service.submit_batch(request)
    done = await service.wait_batch(submitted.id, timeout=20)
    await service.wait(submitted.on_complete_id or 0, timeout=10)

    assert (done.total, done.succeeded) == (6, 6)
    assert wf.summaries == [
        {"id": submitted.id, "total": 6, "succeeded": 6, "failed": 0, "cancelled": 0}
    ]
    with pytest.raises(medley.BatchClosedError):
        await service.batch_add(submitted.id, [medley.EnqueueRequest(job="itw.step", args=(9,))])


async def test_batch_progress_is_streamed_until_it_finishes(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    submitted = await service.submit_batch(
        medley.BatchRequest(
            jobs=tuple(medley.EnqueueRequest(job="itw.step", args=(i,)) for i in range(3))
        )
    )
    await start_worker()

    seen = [info async for info in service.watch_batch(submitted.id, interval=0.02)]

    assert seen[-1].is_finished
    assert seen[-1].done == 3
    assert [i.done for i in seen] == sorted(i.done for i in seen)


async def test_three_servers_fire_each_tick_of_a_recurring_job_exactly_once(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    medley.recurring("itw.every-second", cron="* * * * * *", args=(7,))(wf.step)
    try:
        servers = [await start_worker(leader_seconds=0.2, recurring_seconds=0.1) for _ in range(3)]
        await wait_for(lambda: sum(s.leader.is_leader for s in servers) == 1, timeout=10)

        async def four_ticks_ran() -> bool:
            page = await service.list(JobFilter(job="itw.step", state=JobState.SUCCEEDED))
            return len(page.items) >= 4

        await wait_for(four_ticks_ran, timeout=15)
    finally:
        DEFAULT_REGISTRY.recurring.pop("itw.every-second")
    for server in servers:
        await server.stop(grace=0.5)

    page = await service.list(JobFilter(job="itw.step"), limit=100)
    ticks = Counter(job.run_at for job in page.items)
    assert ticks, "nothing fired"
    assert max(ticks.values()) == 1, f"a tick fired twice: {ticks}"
    ordered = sorted(ticks)
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(ordered))
    info = await service.recurring_get("itw.every-second")
    assert info.last_job_id is not None
    assert "recurring:itw.every-second" in page.items[0].tags
