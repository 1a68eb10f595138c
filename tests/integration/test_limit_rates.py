"""Rate limits in the real worker runtime, on both backends: the observed start rate is
the configured one, token budgets follow reported usage, and a 429 backs the limit off."""

from __future__ import annotations

import time

import pytest

import medley
from medley.application.models.limits import LimitInfo
from tests.integration import limit_jobs
from tests.support.limits import wait_for_tokens_used
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration

RATE = 20
PERIOD = 1.0
STEADY_SECONDS = 3.0


@pytest.fixture(autouse=True)
def _clear() -> None:
    limit_jobs.starts.clear()
    limit_jobs.calls.clear()


async def limit_info(service: medley.JobService, name: str) -> LimitInfo:
    info = await service.limit_get(name)
    assert info is not None, f"limit {name!r} is not defined"
    return info


async def test_the_observed_start_rate_is_the_configured_one(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    # The bucket starts full: a burst of RATE, then RATE per PERIOD for STEADY_SECONDS.
    total = RATE + round(RATE * STEADY_SECONDS / PERIOD)
    await service.limit_set(limit_jobs.RATE_LIMIT, rate=RATE, period=PERIOD)
    await service.enqueue_many(limit_jobs.rate_tick, [() for _ in range(total)])
    await start_worker(concurrency=8)  # two workers compete for the same limit
    await start_worker(concurrency=8)

    await wait_for(
        lambda: len(limit_jobs.starts) >= total, timeout=STEADY_SECONDS * 3 + 5, interval=0.05
    )

    starts = sorted(limit_jobs.starts)
    first = starts[0]
    burst = sum(1 for t in starts if t - first < 0.5 * PERIOD / RATE)
    steady = starts[RATE:]
    observed = (len(steady)) / (steady[-1] - first)
    assert burst <= RATE, f"{burst} starts at once, above the bucket of {RATE}"
    print(f"rate limit: observed {observed:.2f} starts/s, configured {RATE / PERIOD:g}")
    assert observed == pytest.approx(RATE / PERIOD, rel=0.10), (
        f"observed {observed:.2f} starts/s after the burst, configured {RATE / PERIOD:g}"
    )
    for i, t in enumerate(starts):  # never ahead of the bucket: RATE + RATE per PERIOD
        allowed = RATE + (t - first) * RATE / PERIOD
        assert i + 1 <= allowed + 1, f"start {i + 1} at +{t - first:.3f}s, allowed {allowed:.1f}"


async def test_reported_usage_replaces_the_reserved_tokens(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    # A budget of 1000 an hour and an estimate of 400: two at a time by estimate; each
    # reports 100, so the reservations give way and all five run at once.
    ids = [await service.enqueue(limit_jobs.token_call, 100) for _ in range(5)]
    await start_worker(concurrency=8)

    for job_id in ids:
        assert (await service.wait(job_id, timeout=20)).state is medley.JobState.SUCCEEDED

    await wait_for_tokens_used(service, "it-tokens", 500)
    assert (await limit_info(service, "it-tokens")).tokens == 1000


async def test_a_429_snoozes_the_job_and_backs_the_whole_limit_off(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    retry_after = 1.5
    first = await service.enqueue(limit_jobs.flaky_api, "first", retry_after)
    await start_worker(concurrency=4)
    await wait_for(lambda: limit_jobs.calls.get("first") == 1, timeout=10)

    async def blocked() -> bool:
        return (await limit_info(service, "it-api")).blocked_until is not None

    await wait_for(blocked, timeout=5, message="the limit is blocked")
    blocked_at = time.monotonic()
    other = await service.enqueue(limit_jobs.flaky_api, "other", 0)
    info = await service.wait(first, timeout=20)
    started_again = time.monotonic()

    assert info.state is medley.JobState.SUCCEEDED
    assert info.attempt == 1, "a 429 spends no attempt"
    assert started_again - blocked_at >= retry_after * 0.5
    assert (await service.wait(other, timeout=20)).state is medley.JobState.SUCCEEDED
    assert limit_jobs.calls["other"] == 1, "other ran once, after the block"


async def test_a_worker_polling_slower_than_the_period_keeps_the_rate(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    # A bucket holds one period's starts: polling every 5 s, a 1 s period would lose four
    # fifths of them. The fetch's wait hint wakes the worker when the next start is due.
    rate, seconds = 10, 2.0
    total = rate + round(rate * seconds)
    await service.limit_set(limit_jobs.RATE_LIMIT, rate=rate, period=1.0)
    await service.enqueue_many(limit_jobs.rate_tick, [() for _ in range(total)])
    await start_worker(concurrency=4, poll_seconds=5.0)

    await wait_for(lambda: len(limit_jobs.starts) >= total, timeout=seconds * 3 + 5, interval=0.05)

    starts = sorted(limit_jobs.starts)
    observed = len(starts[rate:]) / (starts[-1] - starts[0])
    assert observed == pytest.approx(rate, rel=0.10), f"observed {observed:.2f} starts/s"


async def test_a_worker_held_back_by_a_rate_does_not_spin(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await service.limit_set(limit_jobs.RATE_LIMIT, rate=1, period=3600)
    await service.enqueue_many(limit_jobs.rate_tick, [() for _ in range(10)])
    server = await start_worker(concurrency=4, poll_seconds=0.5)
    await wait_for(lambda: len(limit_jobs.starts) == 1, timeout=10)
    fetches = server.producer.fetches
    observed_from = time.monotonic()

    await wait_for(lambda: time.monotonic() - observed_from >= 1.5, timeout=5, interval=0.1)

    assert len(limit_jobs.starts) == 1
    assert server.producer.fetches - fetches <= 6, "one fetch per poll at most, no busy loop"


async def test_a_429_gives_the_attempt_token_reservation_back(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    # The API counts no tokens for a request it refused with 429: the reservation of the
    # refused attempt (400) must not stay spent for a whole period on top of the retry's.
    job_id = await service.enqueue(limit_jobs.token_429, "refused", 100)
    await start_worker(concurrency=2)

    info = await service.wait(job_id, timeout=20)

    assert info.state is medley.JobState.SUCCEEDED
    assert limit_jobs.calls["refused"] == 2
    await wait_for_tokens_used(service, "it-tokens-429", 100)


async def test_burst_mode_waits_for_jobs_a_start_rate_holds_back(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    # Jobs held back by a start rate are still runnable: `run_until_idle` returned after
    # the first bucketful and left the rest enqueued.
    await service.limit_set(limit_jobs.RATE_LIMIT, rate=5, period=1.0)
    ids = await service.enqueue_many(limit_jobs.rate_tick, [() for _ in range(8)])
    server = await start_worker(concurrency=8)

    await server.run_until_idle(timeout=10)

    assert len(limit_jobs.starts) == 8
    assert {(await service.get(i)).state for i in ids} == {medley.JobState.SUCCEEDED}
