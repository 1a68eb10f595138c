from __future__ import annotations

from datetime import timedelta

import pytest

import medley
from medley.application.models.jobs import JobState
from tests.integration import jobs
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


async def test_sync_timeout_zombie(service: medley.JobService, start_worker: StartWorker) -> None:
    a = await service.enqueue_with(jobs.sync_sleep, 1.0, options=medley.JobOptions(timeout=timedelta(seconds=0.2), max_attempts=1))
    b = await service.enqueue_with(jobs.sync_sleep, 0.01, options=medley.JobOptions(timeout=timedelta(seconds=0.5), max_attempts=1, priority=200))
    server = await start_worker(concurrency=1)
    ia = await service.wait(a, timeout=5)
    ib = await service.wait(b, timeout=5)
    print(ia.state, ia.error, ib.state, ib.error)
    assert ib.state is JobState.SUCCEEDED
