"""`InProcessJobService`: the database-free service for host applications' tests keeps
the real contract (JSON round trip, validation, history, retries)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import medley
from medley.application.models.jobs import JobState, StateChangeReason
from tests.integration import jobs

pytestmark = pytest.mark.integration


@pytest.fixture
async def in_process() -> AsyncIterator[medley.InProcessJobService]:
    svc = medley.InProcessJobService()
    try:
        yield svc
    finally:
        await svc.close()


async def test_job_runs_eagerly_with_a_json_round_trip(
    in_process: medley.InProcessJobService,
) -> None:
    job_id = await in_process.enqueue(jobs.echo, (1, "two", {"three": 3.0}))

    info = await in_process.get(job_id)

    assert info.state is JobState.SUCCEEDED
    assert info.result == [1, "two", {"three": 3.0}], "a tuple comes back as a JSON list"
    assert info.args == [[1, "two", {"three": 3.0}]]
    assert [(h.from_state, h.to_state, h.reason) for h in info.history] == [
        (None, JobState.ENQUEUED, StateChangeReason.ENQUEUED),
        (JobState.ENQUEUED, JobState.PROCESSING, StateChangeReason.FETCHED),
        (JobState.PROCESSING, JobState.SUCCEEDED, StateChangeReason.COMPLETED),
    ]


async def test_enqueue_many_runs_each_call(
    in_process: medley.InProcessJobService,
) -> None:
    ids = await in_process.enqueue_many(jobs.echo, [(1,), ("two",)])

    assert [(await in_process.get(i)).result for i in ids] == [1, "two"]


async def test_non_json_argument_is_refused_at_enqueue(
    in_process: medley.InProcessJobService,
) -> None:
    with pytest.raises(medley.InvalidArgumentsError):
        await in_process.enqueue(jobs.echo, {1, 2})

    assert (await in_process.list()).items == []


async def test_failed_attempt_is_retried_by_run_pending(
    in_process: medley.InProcessJobService,
) -> None:
    job_id = await in_process.enqueue(jobs.flaky_slow_backoff)
    after_first = await in_process.get(job_id)
    assert after_first.state is JobState.SCHEDULED
    assert after_first.error is not None
    assert after_first.error.type == "ValueError"

    assert await in_process.run_pending() == 0, "the retry is not due yet"
    assert await in_process.run_pending(include_future=True) == 1

    info = await in_process.get(job_id)
    assert info.state is JobState.SUCCEEDED
    assert (info.attempt, info.result) == (2, 2)
    assert [h.reason for h in info.history] == [
        StateChangeReason.ENQUEUED,
        StateChangeReason.FETCHED,
        StateChangeReason.RETRIED,
        StateChangeReason.FETCHED,
        StateChangeReason.COMPLETED,
    ]


async def test_failing_job_without_attempts_left_ends_failed(
    in_process: medley.InProcessJobService,
) -> None:
    info = await in_process.get(await in_process.enqueue(jobs.always_fails))

    assert info.state is JobState.FAILED
    assert info.error is not None
    assert (info.error.type, info.error.message) == ("RuntimeError", "boom")
