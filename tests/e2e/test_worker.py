"""`medley worker`: runs enqueued jobs, stops on SIGTERM without losing what it held, and
under `--processes` keeps its children alive."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import medley
from medley.application.models.jobs import StateChangeReason
from medley.infrastructure.jobs.storage.port import ServerRow
from tests.e2e.conftest import MedleyCli
from tests.support.wait import wait_for

pytestmark = pytest.mark.e2e

IMPORT = ("--import", "tests.e2e.jobs")
START_TIMEOUT = 20.0
"""A worker process needs a second or two to import and register on a loaded machine."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_worker_runs_a_job_enqueued_by_the_cli_and_stops_on_sigterm(
    cli: MedleyCli, service: medley.JobService
) -> None:
    enqueued = await cli.run("jobs", "enqueue", "e2e.add", "--args", "[1,2]", *IMPORT)
    assert enqueued.code == 0, enqueued
    job_id = int(enqueued.stdout.split()[0])
    worker = await cli.start("worker", *IMPORT, "--concurrency", "2")

    info = await service.wait(job_id, timeout=START_TIMEOUT)

    assert info.state is medley.JobState.SUCCEEDED, worker.log()
    assert info.result == 3
    assert await worker.stop(signal.SIGTERM, timeout=10) == 0, worker.log()
    assert "Traceback" not in worker.log()


async def test_sigterm_gives_a_running_job_back_to_the_queue(
    cli: MedleyCli, service: medley.JobService, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    job_id = await service.enqueue("e2e.wait_for_file", str(gate))
    grace = {"MEDLEY_SHUTDOWN_GRACE_SECONDS": "0.5"}
    worker = await cli.start("worker", *IMPORT, env=grace)

    async def running() -> bool:
        return (await service.get(job_id)).state is medley.JobState.PROCESSING

    await wait_for(running, timeout=START_TIMEOUT, message="job picked up by the worker")
    assert await worker.stop(signal.SIGTERM, timeout=5) == 0, worker.log()

    released = await service.get(job_id)
    assert released.state is medley.JobState.ENQUEUED, worker.log()
    assert released.history[-1].reason is StateChangeReason.RELEASED

    gate.touch()
    second = await cli.start("worker", *IMPORT)
    done = await service.wait(job_id, timeout=START_TIMEOUT)
    assert done.state is medley.JobState.SUCCEEDED, second.log()
    assert done.result == "released"
    assert await second.stop() == 0, second.log()


async def test_processes_supervisor_restarts_a_killed_child_and_stops_all(
    cli: MedleyCli, service: medley.JobService
) -> None:
    supervisor = await cli.start("worker", *IMPORT, "--processes", "2")

    async def live() -> list[ServerRow]:
        return [s for s in await service.store.server_list() if _alive(s.pid)]

    async def two_live() -> bool:
        return len(await live()) == 2

    await wait_for(two_live, timeout=START_TIMEOUT, message="two worker processes")
    first = {s.pid for s in await live()}
    victim = min(first)
    os.kill(victim, signal.SIGKILL)

    async def replaced() -> bool:
        pids = {s.pid for s in await live()}
        return len(pids) == 2 and victim not in pids and len(pids - first) == 1

    await wait_for(replaced, timeout=START_TIMEOUT, message="a restarted worker process")
    survivors = {s.pid for s in await live()}

    assert await supervisor.stop(signal.SIGTERM, timeout=15) == 0, supervisor.log()
    assert not any(_alive(pid) for pid in survivors), supervisor.log()
    left = {s.pid for s in await service.store.server_list()}
    assert left <= {victim}, "children deregister on a graceful stop"
