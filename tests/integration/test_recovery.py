"""At least once: the jobs of a worker that died are rescued after its lease and run again
as a new attempt; whatever the dead worker writes late is rejected."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import medley
from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.maintenance.rescuer import JobRescuer
from medley.infrastructure.jobs.storage.port import JobCompletion, ServerParams
from tests.integration import jobs
from tests.support.jobs import claim
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration

DEAD_WORKER = "dead-host:4242:deadbeef"
REPO_ROOT = Path(__file__).resolve().parents[2]


def dead_server(worker_id: str) -> ServerParams:
    return ServerParams(
        id=worker_id,
        hostname="dead-host",
        pid=4242,
        queues=["default"],
        concurrency=1,
        running=1,
        cpu_percent=0.0,
        rss_bytes=0,
        started_at=datetime.now(UTC),
    )


def late_success(job_id: int, attempt: int) -> JobCompletion:
    return JobCompletion(
        id=job_id,
        attempt=attempt,
        state=JobState.SUCCEEDED,
        reason=StateChangeReason.COMPLETED,
        result_json='"late"',
    )


async def test_job_of_a_worker_that_stopped_heartbeating_is_rescued_and_runs_again(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    store = service.store
    await service.enqueue(jobs.attempt)
    await store.server_heartbeat(dead_server(DEAD_WORKER))
    row = await claim(store, worker_id=DEAD_WORKER)
    rescuer = JobRescuer(store, lease_seconds=0.5, interval=1)

    first = await rescuer.run_once()
    assert first.rescued == 0, "a worker within its lease keeps its jobs"

    async def rescued() -> bool:
        return (await rescuer.run_once()).rescued == 1

    await wait_for(rescued, timeout=5, interval=0.1, message="job rescued after the lease")

    info = await service.get(row.id)
    assert info.state is JobState.SCHEDULED
    assert info.attempt == 1, "the lost attempt counts"
    assert info.worker is None
    assert info.error is not None
    assert info.error.type == "WorkerLostError"
    last = info.history[-1]
    assert (last.from_state, last.to_state, last.reason, last.worker) == (
        JobState.PROCESSING,
        JobState.SCHEDULED,
        StateChangeReason.RESCUED,
        DEAD_WORKER,
    )

    # The dead worker wakes up and reports; its outcome is fenced off.
    assert await store.job_set_state_if_processing(DEAD_WORKER, [late_success(row.id, 1)]) == []
    assert (await service.get(row.id)).state is JobState.SCHEDULED

    server = await start_worker()
    done = await service.wait(row.id, timeout=10)

    assert done.state is JobState.SUCCEEDED
    assert (done.attempt, done.result) == (2, 2)
    assert done.history[-1].worker == server.worker_id
    assert await store.job_set_state_if_processing(DEAD_WORKER, [late_success(row.id, 1)]) == []
    assert (await service.get(row.id)).result == 2


async def test_job_claimed_by_a_worker_that_never_registered_is_rescued(
    service: medley.JobService,
) -> None:
    await service.enqueue(jobs.attempt)
    row = await claim(service.store, worker_id="never-registered")

    result = await JobRescuer(service.store, lease_seconds=60, interval=1).run_once()

    assert (result.rescued, result.failed) == (1, 0)
    assert (await service.get(row.id)).state is JobState.SCHEDULED


async def test_rescued_job_without_attempts_left_fails_with_worker_lost_error(
    service: medley.JobService,
) -> None:
    options = medley.JobOptions(max_attempts=1)
    await service.enqueue_with(jobs.attempt, options=options)
    row = await claim(service.store, worker_id="never-registered")

    result = await JobRescuer(service.store, lease_seconds=60, interval=1).run_once()

    assert (result.rescued, result.failed) == (0, 1)
    info = await service.get(row.id)
    assert info.state is JobState.FAILED
    assert info.error is not None
    assert info.error.type == "WorkerLostError"


@pytest.fixture
async def worker_process(
    database_url: str, service: medley.JobService
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Starts `python -m tests.integration.worker_process` on the test database (after the
    `service` fixture migrated it); kills it at teardown if the test did not."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.worker_process",
        database_url,
        cwd=REPO_ROOT,  # `-m` imports `tests` from here
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.communicate()


async def test_job_of_a_killed_worker_process_runs_again_on_another_worker(
    service: medley.JobService,
    start_worker: StartWorker,
    worker_process: asyncio.subprocess.Process,
) -> None:
    proc = worker_process
    job_id = await service.enqueue(jobs.block_first_attempt)
    assert proc.stdout is not None
    assert proc.stderr is not None
    ready = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
    if not ready.startswith(b"ready "):
        errors = await asyncio.wait_for(proc.stderr.read(), timeout=5)
        pytest.fail(f"the worker process did not start:\n{errors.decode()}")
    dead_id = ready.decode().split()[1]

    async def processing_in_child() -> bool:
        info = await service.get(job_id)
        return info.state is JobState.PROCESSING and info.worker == dead_id

    await wait_for(processing_in_child, timeout=10, message="job processing in the child")

    os.kill(proc.pid, signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL

    server = await start_worker(
        heartbeat_seconds=0.2, lease_seconds=1, leader_seconds=0.2, rescuer_seconds=0.3
    )
    info = await service.wait(job_id, timeout=15)

    assert info.state is JobState.SUCCEEDED
    assert (info.attempt, info.result) == (2, 2)
    reasons = [(h.reason, h.worker) for h in info.history]
    assert (StateChangeReason.RESCUED, dead_id) in reasons
    assert reasons[-1] == (StateChangeReason.COMPLETED, server.worker_id)
    assert socket.gethostname() in dead_id
