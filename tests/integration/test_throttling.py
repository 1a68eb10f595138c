"""Resource throttling on the real worker, both backends: under memory or CPU pressure a
worker stops fetching (logged, and reported in its heartbeat with the reason), running
jobs finish undisturbed, and fetching resumes once the pressure is gone."""

from __future__ import annotations

import logging

import pytest

import medley
from medley.infrastructure.jobs.runtime.server import WorkerServer
from medley.infrastructure.jobs.runtime.throttle import MB, ResourceSample, ThrottleConfig
from tests.integration import jobs
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration

CALM = ResourceSample(rss_bytes=50 * MB, available_bytes=8000 * MB, cpu_percent=10.0)
SWOLLEN = ResourceSample(rss_bytes=900 * MB, available_bytes=8000 * MB, cpu_percent=10.0)
THRESHOLDS = ThrottleConfig(max_rss_mb=500, min_available_mb=100, sample_seconds=0.02)


class StubSampler:
    """Resource readings a test sets; counts how often the worker looked."""

    def __init__(self, sample: ResourceSample) -> None:
        self.sample = sample
        self.calls = 0

    def __call__(self) -> ResourceSample:
        self.calls += 1
        return self.sample


async def _state(service: medley.JobService, job_id: int) -> medley.JobState:
    return (await service.get(job_id)).state


async def test_a_throttled_worker_fetches_nothing_until_pressure_ends(
    service: medley.JobService, start_worker: StartWorker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="medley.worker")
    sampler = StubSampler(SWOLLEN)
    worker = await start_worker(throttle=THRESHOLDS, sampler=sampler)
    job_id = await service.enqueue(jobs.echo, "later")

    async def reported_throttled() -> bool:
        [server] = await service.server_list()
        return server.throttled

    await wait_for(reported_throttled, timeout=10)
    looked = sampler.calls
    await wait_for(lambda: sampler.calls >= looked + 5, timeout=10, message="re-sampled")
    assert worker.producer.fetches == 0
    assert await _state(service, job_id) is medley.JobState.ENQUEUED
    [server] = await service.server_list()
    assert server.throttle_reason == "rss 900 MB > 500 MB"
    assert "throttled: rss 900 MB > 500 MB" in caplog.text
    assert any(r.levelno == logging.WARNING and "throttled" in r.message for r in caplog.records)

    sampler.sample = CALM
    info = await service.wait(job_id, timeout=10)

    assert info.state is medley.JobState.SUCCEEDED
    assert any(
        r.levelno == logging.INFO and "throttling ended" in r.message for r in caplog.records
    )

    async def reported_recovered() -> bool:
        [server] = await service.server_list()
        return not server.throttled and server.throttle_reason is None

    await wait_for(reported_recovered, timeout=10)


async def test_throttling_never_interrupts_a_running_job(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    sampler = StubSampler(CALM)
    low_memory = ResourceSample(rss_bytes=50 * MB, available_bytes=10 * MB, cpu_percent=10.0)
    worker = await start_worker(throttle=THRESHOLDS, sampler=sampler)
    running = await service.enqueue(jobs.progress_then_wait, "release")
    await wait_for(lambda: running in worker.producer.running, timeout=10)

    sampler.sample = low_memory
    await wait_for(lambda: worker.throttle.throttled, timeout=10)
    waiting = await service.enqueue(jobs.echo, "waits")
    jobs.gate("release").set()

    assert (await service.wait(running, timeout=10)).state is medley.JobState.SUCCEEDED
    assert worker.throttle.reason == "available memory 10 MB < 100 MB"
    assert await _state(service, waiting) is medley.JobState.ENQUEUED
    sampler.sample = CALM
    assert (await service.wait(waiting, timeout=10)).state is medley.JobState.SUCCEEDED


async def test_a_real_rss_threshold_below_the_process_size_throttles(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    worker = await start_worker(throttle=ThrottleConfig(max_rss_mb=1))
    job_id = await service.enqueue(jobs.echo, "never")

    [server] = await service.server_list()

    assert server.throttled
    assert server.throttle_reason is not None
    assert server.throttle_reason.startswith("rss ")
    assert worker.producer.fetches == 0
    assert await _state(service, job_id) is medley.JobState.ENQUEUED


class PressureDuringFetch:
    """Under pressure until `worker` is set; then calm, except for the first `times`
    samples taken inside a fetch: the pressure comes and goes between the looks that
    burst mode takes around its fetch."""

    def __init__(self, times: int) -> None:
        self.worker: WorkerServer | None = None
        self.left = times

    def __call__(self) -> ResourceSample:
        if self.worker is None:
            return SWOLLEN
        if self.worker.producer._fetch_lock.locked() and self.left > 0:
            self.left -= 1
            return SWOLLEN
        return CALM


async def test_burst_mode_does_not_stop_on_a_fetch_skipped_for_pressure(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    ids = [await service.enqueue(jobs.echo, i) for i in range(3)]
    sampler = PressureDuringFetch(times=50)
    worker = await start_worker(
        throttle=ThrottleConfig(max_rss_mb=500, sample_seconds=1e-9),  # every look samples
        sampler=sampler,
        poll_seconds=30,
    )
    sampler.worker = worker  # no await in between: burst mode takes the first look

    await worker.run_until_idle(timeout=20)

    for job_id in ids:
        assert await _state(service, job_id) is medley.JobState.SUCCEEDED
