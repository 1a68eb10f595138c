"""Limits around a model: the inference slots bound concurrent calls. An API's requests
and tokens per minute are the engine's cluster-wide rate limits now: their buckets are
tested in tests/contract/test_limit_rates.py (start full and refill, reservations, a
request above the budget, 429 blocks) and the LLM job's use of them in test_llm.py."""

from __future__ import annotations

import asyncio
import threading

import pytest

from medley.infrastructure.ai.limits import InferenceSlots
from tests.support.wait import wait_for

pytestmark = pytest.mark.unit


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
