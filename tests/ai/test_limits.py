"""Limits around a model: the inference slots bound concurrent calls; the rate limiter
keeps requests and tokens per minute and honours a 429's Retry-After."""

from __future__ import annotations

import asyncio
import threading

import pytest

from medley.infrastructure.ai.limits import InferenceSlots, RateLimiter
from tests.support.wait import wait_for

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_requests_per_minute_start_full_then_refill_at_their_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(requests_per_minute=2, clock=clock)

    assert limiter.reserve(10) == 0
    assert limiter.reserve(10) == 0
    assert limiter.reserve(10) == pytest.approx(30.0)  # one request per 30 s
    clock.now += 30
    assert limiter.reserve(10) == 0


def test_tokens_per_minute_wait_for_the_missing_tokens_and_take_nothing_meanwhile() -> None:
    clock = FakeClock()
    limiter = RateLimiter(tokens_per_minute=600, clock=clock)  # 10 tokens a second

    assert limiter.reserve(500) == 0
    assert limiter.reserve(300) == pytest.approx(20.0)  # 100 left, 200 missing
    clock.now += 20
    assert limiter.reserve(300) == 0


def test_a_request_larger_than_the_budget_waits_for_a_full_bucket_not_forever() -> None:
    clock = FakeClock()
    limiter = RateLimiter(tokens_per_minute=60, clock=clock)

    assert limiter.reserve(1000) == 0
    assert limiter.reserve(1000) == pytest.approx(60.0)


def test_block_for_refuses_everything_until_retry_after_passed() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)  # no limits of its own

    limiter.block_for(7)

    assert limiter.reserve(1) == pytest.approx(7.0)
    clock.now += 7
    assert limiter.reserve(1) == 0


def test_negative_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        RateLimiter(requests_per_minute=-1)


async def test_inference_slots_run_at_most_size_calls_at_once() -> None:
    slots = InferenceSlots(2)
    running = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def call() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(5)
        with lock:
            running -= 1

    tasks = [asyncio.create_task(slots.run(call)) for _ in range(5)]
    await wait_for(lambda: running == 2)
    release.set()
    await asyncio.gather(*tasks)
    slots.close()

    assert peak == 2
    assert slots.calls == 5
