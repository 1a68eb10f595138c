"""CPU-bound jobs run in killable child processes: progress crosses the pipe, a timeout or
cancel kills only that child, a crash fails only its job, and the slot keeps serving."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import psutil
import pytest

import medley
from medley.application.models.jobs import JobState
from tests.integration import process_jobs
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration

ONCE = medley.JobOptions(max_attempts=1)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_progress_reported_in_a_child_process_is_stored(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(cpu_processes=1)

    info = await service.wait(await service.enqueue(process_jobs.report_progress, 4), timeout=30)

    assert info.state is JobState.SUCCEEDED
    assert info.result["pid"] != os.getpid()
    assert info.result["attempt"] == 1
    assert info.progress.fraction == 1.0
    assert info.progress.message == "step 4/4"


async def test_timeout_kills_the_child_and_the_next_job_gets_a_fresh_one(
    service: medley.JobService, start_worker: StartWorker, tmp_path: Path
) -> None:
    await start_worker(cpu_processes=1)
    marker = tmp_path / "spin.pid"
    # The timeout includes starting the child: 3 s leaves room for a slow, shared machine.
    options = medley.JobOptions(max_attempts=1, timeout=timedelta(seconds=3))

    job_id = await service.enqueue_with(process_jobs.spin_forever, str(marker), options=options)
    info = await service.wait(job_id, timeout=30)

    assert info.state is JobState.FAILED
    assert info.error is not None
    assert info.error.type == "TimeoutError"
    spinner = int(marker.read_text())
    await wait_for(lambda: not _alive(spinner), timeout=10, message="timed-out child killed")
    after = await service.wait(await service.enqueue(process_jobs.child_pid), timeout=30)
    assert after.state is JobState.SUCCEEDED
    assert after.result != spinner


async def test_cancel_kills_a_running_child(
    service: medley.JobService, start_worker: StartWorker, tmp_path: Path, backend_name: str
) -> None:
    await start_worker(cpu_processes=1, heartbeat_seconds=0.2, lease_seconds=5)
    marker = tmp_path / "spin.pid"
    job_id = await service.enqueue_with(process_jobs.spin_forever, str(marker), options=ONCE)
    await wait_for(marker.exists, timeout=30, message="child started the job")
    spinner = int(marker.read_text())

    await service.cancel(job_id)
    info = await service.wait(job_id, timeout=10)

    assert info.state is JobState.CANCELLED
    await wait_for(lambda: not _alive(spinner), timeout=10, message="cancelled child killed")


async def test_a_crashing_child_fails_its_job_and_the_worker_keeps_serving(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(cpu_processes=1)

    crashed = await service.wait(
        await service.enqueue_with(process_jobs.crash_hard, options=ONCE), timeout=30
    )
    after = await service.wait(await service.enqueue(process_jobs.child_pid), timeout=30)

    assert crashed.state is JobState.FAILED
    assert crashed.error is not None
    assert crashed.error.type == "WorkerProcessDiedError"
    assert "exit code 7" in crashed.error.message
    assert after.state is JobState.SUCCEEDED
