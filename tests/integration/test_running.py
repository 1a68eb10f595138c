"""Jobs run by a real `WorkerServer`: burst mode, results, progress, history, and the
three ways a job runs (on the loop, in a thread, in a process)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

import medley
from medley.application.models.jobs import JobState, StateChangeReason
from tests.integration import jobs, limit_jobs
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


async def test_burst_runs_every_job_exactly_once(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await service.submit_many([medley.EnqueueRequest(job="it.noop", args=(i,)) for i in range(200)])
    server = await start_worker(concurrency=50)

    await server.run_until_idle(timeout=30)

    assert sorted(jobs.calls) == list(range(200))
    counts = {c.state: c.count for c in await service.store.job_count_by_state()}
    assert counts == {JobState.SUCCEEDED: 200}


async def test_enqueue_many_runs_each_call_once_with_the_options_and_history(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    ids = await service.enqueue_many(jobs.noop, [(i,) for i in range(150)])
    [held] = await service.enqueue_many(
        "it.noop", [[1000]], options=medley.JobOptions(queue="elsewhere", tags=("t",))
    )
    server = await start_worker(concurrency=20)

    await server.run_until_idle(timeout=30)

    assert len(set(ids)) == 150
    assert ids == sorted(ids), "ids in input order"
    assert sorted(jobs.calls) == list(range(150))
    info = await service.get(ids[42])
    assert (info.state, info.args, info.kwargs) == (JobState.SUCCEEDED, [42], {})
    assert [(h.from_state, h.to_state, h.reason) for h in info.history] == [
        (None, JobState.ENQUEUED, StateChangeReason.ENQUEUED),
        (JobState.ENQUEUED, JobState.PROCESSING, StateChangeReason.FETCHED),
        (JobState.PROCESSING, JobState.SUCCEEDED, StateChangeReason.COMPLETED),
    ]
    other = await service.get(held)
    assert (other.state, other.queue, other.tags) == (JobState.ENQUEUED, "elsewhere", ["t"])
    assert await service.enqueue_many(jobs.noop, []) == []


async def test_enqueue_many_stores_awkward_text_and_shared_options_exactly(
    service: medley.JobService,
) -> None:
    """A bulk enqueue writes the columns its jobs share once per chunk (PostgreSQL: as
    COPY text): every row must still read back exactly as given."""
    awkward = 'tab\there, new\nline, cr\r, back\\slash \\N, quote ", é, 😀'
    options = medley.JobOptions(
        queue=f"q\t{awkward}", tags=(awkward, "plain"), delay=timedelta(hours=1)
    )
    calls = [(f"{awkward} {i}",) if i % 2 else ({"k": [awkward, i]},) for i in range(100)]

    ids = await service.enqueue_many(jobs.echo, calls, options=options)

    for job_id, (value,) in zip(ids, calls, strict=True):
        info = await service.get(job_id)
        assert (info.args, info.kwargs) == ([value], {})
        assert (info.queue, info.tags, info.state) == (
            options.queue,
            [awkward, "plain"],
            JobState.SCHEDULED,
        )
        assert info.run_at - info.created_at > timedelta(minutes=59)


async def test_bulk_enqueue_of_plain_calls_reads_back_with_every_default(
    service: medley.JobService,
) -> None:
    """A bulk enqueue leaves what no job sets to the column's default (PostgreSQL: COPY
    leaves out those columns): the jobs must read as if each had been enqueued alone."""
    ids = await service.enqueue_many(jobs.echo, [(i,) for i in range(100)])
    alone = await service.get(await service.enqueue(jobs.echo, 100))

    for i, job_id in enumerate(ids):
        info, row = await service.get(job_id), await service.store.job_get(job_id)
        assert row is not None
        assert (info.args, info.kwargs, info.tags, row.meta) == ([i], {}, [], {})
        assert (info.state, info.queue, info.timeout_seconds) == (
            JobState.ENQUEUED,
            alone.queue,
            alone.timeout_seconds,
        )
        assert info.run_at == info.created_at


async def test_bulk_enqueue_keeps_each_jobs_own_limit_key(service: medley.JobService) -> None:
    """A keyed limit's meta differs per job of one bulk enqueue (built as the rows are)."""
    calls = [(f"tenant-{i % 7}", 0.0) for i in range(100)]

    ids = await service.enqueue_many(limit_jobs.tenant_work, calls)

    for job_id, (tenant, _) in zip(ids, calls, strict=True):
        row = await service.store.job_get(job_id)
        assert row is not None
        assert (row.meta["limit"], row.meta["limit_key"]) == ("it-tenant", tenant)


async def test_succeeded_job_keeps_result_final_progress_and_history(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    server = await start_worker()

    job_id = await service.enqueue(jobs.add, 2, b=3)
    info = await service.wait(job_id, timeout=10)

    assert info.state is JobState.SUCCEEDED
    assert info.result == 5
    assert info.attempt == 1
    assert (info.progress.fraction, info.progress.message) == (1.0, "done")
    assert info.started_at is not None
    assert info.finished_at is not None
    assert info.finished_at >= info.started_at
    assert [(h.from_state, h.to_state, h.reason, h.worker) for h in info.history] == [
        (None, JobState.ENQUEUED, StateChangeReason.ENQUEUED, None),
        (JobState.ENQUEUED, JobState.PROCESSING, StateChangeReason.FETCHED, server.worker_id),
        (JobState.PROCESSING, JobState.SUCCEEDED, StateChangeReason.COMPLETED, server.worker_id),
    ]
    assert [h.attempt for h in info.history] == [0, 1, 1]


async def test_progress_is_visible_while_the_job_runs(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()
    job_id = await service.enqueue(jobs.progress_then_wait, "go")

    async def progress_stored() -> bool:
        info = await service.get(job_id)
        return (info.progress.fraction, info.progress.message) == (0.3, "working")

    await wait_for(progress_stored, timeout=5, message="progress 0.3 'working' stored")
    running = await service.get(job_id)
    assert running.state is JobState.PROCESSING
    assert running.worker is not None

    jobs.gate("go").set()
    info = await service.wait(job_id, timeout=10)

    assert info.state is JobState.SUCCEEDED
    assert info.result == "finished"
    assert (info.progress.fraction, info.progress.message) == (0.9, "finishing")


async def test_wait_raises_wait_timeout_error_when_the_job_does_not_finish(
    service: medley.JobService,
) -> None:
    job_id = await service.enqueue(jobs.noop, 1)  # no worker runs it

    with pytest.raises(medley.WaitTimeoutError) as caught:
        await service.wait(job_id, timeout=0.2)

    assert caught.value.job_id == job_id
    assert (await service.get(job_id)).state is JobState.ENQUEUED


async def test_wait_raises_job_not_found_for_an_unknown_id(service: medley.JobService) -> None:
    with pytest.raises(medley.JobNotFoundError):
        await service.wait(987654, timeout=1)


async def test_async_job_runs_on_the_event_loop(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()

    info = await service.wait(await service.enqueue(jobs.noop, 7), timeout=10)

    assert info.state is JobState.SUCCEEDED
    assert jobs.calls == [7]


async def test_sync_job_runs_in_a_worker_thread(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()

    info = await service.wait(await service.enqueue(jobs.thread_name), timeout=10)

    assert info.state is JobState.SUCCEEDED
    assert isinstance(info.result, str)
    assert info.result.startswith("medley-job")


async def test_cpu_bound_job_runs_in_another_process(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(cpu_processes=1)

    info = await service.wait(await service.enqueue(jobs.pid), timeout=20)

    assert info.state is JobState.SUCCEEDED
    assert isinstance(info.result, int)
    assert info.result != os.getpid()


async def test_sync_job_gets_its_context_and_reports_progress_from_its_thread(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()
    job_id = await service.enqueue(jobs.sync_progress_then_wait, "go")

    async def progress_stored() -> bool:
        info = await service.get(job_id)
        return (info.progress.fraction, info.progress.message) == (0.4, "in a thread")

    await wait_for(progress_stored, timeout=5, message="sync job progress stored")
    jobs.thread_gate("go").set()
    info = await service.wait(job_id, timeout=10)

    assert info.state is JobState.SUCCEEDED
    assert info.result == "finished"


async def test_cpu_bound_job_that_takes_a_context_runs_in_a_process(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(cpu_processes=1)
    once = medley.JobOptions(max_attempts=1)

    job_id = await service.enqueue_with(jobs.cpu_with_ctx, 21, options=once)
    info = await service.wait(job_id, timeout=20)

    assert info.error is None
    assert (info.state, info.result) == (JobState.SUCCEEDED, 42)


async def test_job_whose_result_is_not_json_fails_without_retrying(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()

    info = await service.wait(await service.enqueue(jobs.returns_set), timeout=10)

    assert info.state is JobState.FAILED
    assert info.attempt == 1
    assert info.error is not None
    assert info.error.type == "InvalidArgumentsError"
    assert "it.returns_set" in info.error.message


async def test_burst_runs_due_retries_before_returning(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    server = await start_worker(concurrency=50, poll_seconds=30)
    for _ in range(8):
        await service.submit_many([medley.EnqueueRequest(job="it.flaky") for _ in range(50)])

        await server.run_until_idle(timeout=30)

        counts = {c.state: c.count for c in await service.store.job_count_by_state()}
        assert set(counts) == {JobState.SUCCEEDED}, f"left behind: {counts}"
