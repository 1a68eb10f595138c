"""`cpu_bound` jobs run in child processes: what their context reports beyond progress
and logs (`ctx.report_usage`, `ctx.rate_limited`, a `Retry` with its delay) comes back up
the pipe and is applied to the outcome exactly as for a job run in the worker itself."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

import medley
from medley.application.models.limits import LimitInfo
from tests.integration import limit_jobs
from tests.support.limits import wait_for_tokens_used
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


async def limit_info(service: medley.JobService, name: str) -> LimitInfo:
    info = await service.limit_get(name)
    assert info is not None, f"limit {name!r} is not defined"
    return info


async def test_usage_reported_in_a_child_replaces_the_reservation(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    # A budget of 1000 an hour, an estimate of 400 each: by estimate only two of the
    # three would ever start; each really uses 100.
    ids = [await service.enqueue(limit_jobs.token_call_cpu, 100, 0) for _ in range(3)]
    await start_worker(concurrency=4, cpu_processes=2)

    for job_id in ids:
        info = await service.wait(job_id, timeout=30)
        assert info.state is medley.JobState.SUCCEEDED, info.error

    await wait_for_tokens_used(service, "it-tokens-cpu", 300)


async def test_usage_reported_before_a_child_is_killed_still_counts(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(concurrency=2, cpu_processes=1)
    # A first job starts the child, which then serves the next: the timeout of the second
    # would otherwise include the child's start (over 3 s once on a loaded machine).
    warm = await service.enqueue(limit_jobs.token_call_cpu, 0, 0)
    assert (await service.wait(warm, timeout=30)).state is medley.JobState.SUCCEEDED
    options = medley.JobOptions(timeout=timedelta(seconds=3), max_attempts=1)
    job_id = await service.enqueue_with(limit_jobs.token_call_cpu, 60, 30, options=options)

    info = await service.wait(job_id, timeout=30)

    assert info.state is medley.JobState.FAILED
    assert info.error is not None
    assert info.error.type == "TimeoutError"
    await wait_for_tokens_used(service, "it-tokens-cpu", 60)


async def test_a_429_in_a_child_snoozes_and_backs_the_limit_off(
    service: medley.JobService, start_worker: StartWorker, tmp_path: Path
) -> None:
    retry_after = 1.5
    counter = tmp_path / "calls"
    job_id = await service.enqueue(limit_jobs.flaky_api_cpu, str(counter), retry_after)
    await start_worker(concurrency=2, cpu_processes=1)

    async def blocked() -> bool:
        return (await limit_info(service, "it-api-cpu")).blocked_until is not None

    await wait_for(blocked, timeout=20, message="the limit is blocked")
    blocked_at = time.monotonic()
    info = await service.wait(job_id, timeout=30)

    assert info.state is medley.JobState.SUCCEEDED, info.error
    assert info.result == 2
    assert info.attempt == 1, "a 429 spends no attempt"
    assert time.monotonic() - blocked_at >= retry_after * 0.5


async def test_a_retry_in_a_child_keeps_its_delay(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    job_id = await service.enqueue(limit_jobs.retry_cpu)
    await start_worker(concurrency=2, cpu_processes=1)

    info = await service.wait(job_id, timeout=10)  # the default backoff is far longer

    assert info.state is medley.JobState.SUCCEEDED, info.error
    assert info.result == 2
