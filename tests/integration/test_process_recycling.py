"""Process-mode recycling with real child processes: a `cpu_bound` job process is
replaced after `child_max_jobs` jobs or once its RSS passes `child_max_rss_mb`, always
after the job it is running, which finishes normally."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import psutil
import pytest

import medley
from tests.integration import resource_jobs
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration

LEAK_MB = 150


async def _run(service: medley.JobService, job: object, *args: object) -> int:
    info = await service.wait(await service.enqueue(job, *args), timeout=30)
    assert info.state is medley.JobState.SUCCEEDED, info.error
    assert isinstance(info.result, int)
    return info.result


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_a_child_is_replaced_after_max_jobs(
    service: medley.JobService, start_worker: StartWorker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="medley.worker")
    await start_worker(cpu_processes=1, child_max_jobs=2)

    pids = [await _run(service, resource_jobs.child_pid) for _ in range(5)]

    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    await wait_for(lambda: _gone(pids[0]), timeout=10, message="retired child exited")
    assert caplog.text.count("recycling job process pid") == 2
    assert "2 jobs done (max 2)" in caplog.text


async def test_a_child_above_the_rss_ceiling_is_replaced_after_its_job(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(cpu_processes=1, child_max_rss_mb=LEAK_MB)
    first = await _run(service, resource_jobs.child_pid)
    assert await _run(service, resource_jobs.child_pid) == first  # small: kept
    baseline_mb = psutil.Process(first).memory_info().rss / resource_jobs.MB
    assert baseline_mb < LEAK_MB, "a fresh child must start below the ceiling"

    leaker = await _run(service, resource_jobs.leak, LEAK_MB)  # finishes in its child
    after = await _run(service, resource_jobs.child_pid)

    assert leaker == first
    assert after != first
    await wait_for(lambda: _gone(first), timeout=10, message="bloated child exited")


async def test_retiring_a_child_never_holds_up_the_outcome_of_its_last_job(
    service: medley.JobService, start_worker: StartWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A child stopping slowly (a library's atexit hooks, a big heap to tear down): the
    # job's result is in hand, so neither its timeout nor a cancel may take it away
    # while the retired child is being stopped.
    from medley.infrastructure.jobs.runtime import process_runner

    stopping = threading.Event()
    kill = process_runner._Child.kill

    def slow_kill(child: process_runner._Child) -> None:
        stopping.wait(4)
        kill(child)

    monkeypatch.setattr(process_runner._Child, "kill", slow_kill)
    await start_worker(cpu_processes=1, child_max_jobs=1)
    options = medley.JobOptions(timeout=timedelta(seconds=2), max_attempts=1)
    job_id = await service.enqueue_with(resource_jobs.child_pid, options=options)

    try:
        info = await service.wait(job_id, timeout=30)
    finally:
        stopping.set()

    assert info.state is medley.JobState.SUCCEEDED, info.error
