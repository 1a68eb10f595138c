"""Delayed jobs and unique keys, as a user enqueuing them would notice."""

from __future__ import annotations

from datetime import timedelta

import pytest

import medley
from medley.application.models.jobs import JobState, StateChangeReason
from tests.integration import jobs
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


async def test_delayed_job_is_scheduled_and_runs_only_after_its_run_at(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()
    options = medley.JobOptions(delay=timedelta(seconds=0.5))

    job_id = await service.enqueue_with(jobs.record, "later", options=options)
    waiting = await service.get(job_id)

    assert waiting.state is JobState.SCHEDULED
    assert waiting.run_at - waiting.created_at >= timedelta(seconds=0.4)
    assert waiting.history[0].reason is StateChangeReason.SCHEDULED
    assert jobs.calls == []

    info = await service.wait(job_id, timeout=10)

    assert info.state is JobState.SUCCEEDED
    assert jobs.calls == ["later"]
    assert info.started_at is not None
    assert info.started_at >= waiting.run_at, "started before its run_at"
    assert info.history[1].from_state is JobState.SCHEDULED


async def test_enqueue_with_a_live_unique_key_returns_the_existing_job(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    options = medley.JobOptions(unique_key="report-42")

    first = await service.enqueue_with(jobs.record, 1, options=options)
    second = await service.enqueue_with(jobs.record, 2, options=options)
    submitted = await service.submit(
        medley.EnqueueRequest(job="it.record", args=(3,), options=options)
    )

    assert second == first
    assert (submitted.id, submitted.existing) == (first, True)

    server = await start_worker()
    await server.run_until_idle(timeout=10)

    assert jobs.calls == [1], "only the first enqueue runs"
    after = await service.enqueue_with(jobs.record, 4, options=options)
    assert after != first, "a finished job no longer holds its unique key"
