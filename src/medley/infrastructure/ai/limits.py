"""Limits around a model: how many calls run at once, and how fast requests may go.

`InferenceSlots` is the concurrency limit on a local model: a fixed set of threads
(one per worker process by default) that every embedding job queues on, so ten job
slots never mean ten models fighting over two cores. `RateLimiter` holds an API's
requests-per-minute and tokens-per-minute budgets as token buckets; a job asks for a
reservation and is told how long to wait, which it turns into a short sleep or, past a
threshold, a `Snooze` that frees its worker slot.

Both are per process. Several worker processes share an API's limits by configuring
each with its share; the API's own 429s (answered with `Snooze(Retry-After)`) are the
backstop either way.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class InferenceSlots:
    """At most `size` model calls at once in this process, on threads of their own
    (model calls are blocking and release the GIL in numpy)."""

    def __init__(self, size: int = 1) -> None:
        if size < 1:
            raise ValueError("InferenceSlots needs at least one thread")
        self.size = size
        self._executor = ThreadPoolExecutor(size, thread_name_prefix="medley-inference")
        self._lock = threading.Lock()
        self.calls = 0
        self.busy_seconds = 0.0

    async def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` on an inference thread once one is free. Cancelling the caller stops
        the wait, not a call already running (a thread cannot be interrupted)."""

        def timed() -> T:
            started = time.perf_counter()
            try:
                return fn()
            finally:
                with self._lock:
                    self.calls += 1
                    self.busy_seconds += time.perf_counter() - started

        return await asyncio.get_running_loop().run_in_executor(self._executor, timed)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    level: float
    updated: float

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.per_second)
        self.updated = now

    def wait_for(self, amount: float) -> float:
        if self.level >= amount:
            return 0.0
        return (min(amount, self.capacity) - self.level) / self.per_second


class RateLimiter:
    """Requests and tokens per minute, as two token buckets that start full (a minute's
    budget may be spent in a burst, as the APIs allow). 0 disables a limit. Thread-safe."""

    def __init__(
        self,
        requests_per_minute: float = 0,
        tokens_per_minute: float = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        now = clock()
        self._buckets: dict[str, _Bucket] = {}
        for name, per_minute in (("requests", requests_per_minute), ("tokens", tokens_per_minute)):
            if per_minute < 0:
                raise ValueError(f"{name} per minute must not be negative")
            if per_minute:
                self._buckets[name] = _Bucket(per_minute, per_minute / 60, per_minute, now)
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def reserve(self, tokens: int) -> float:
        """Take one request and `tokens` tokens now and return 0, or take nothing and
        return the seconds until both would be available."""
        with self._lock:
            now = self._clock()
            cost = {"requests": 1.0, "tokens": float(tokens)}
            for bucket in self._buckets.values():
                bucket.refill(now)
            wait = max(
                [self._blocked_until - now]
                + [b.wait_for(cost[name]) for name, b in self._buckets.items()]
            )
            if wait > 0:
                return wait
            for name, bucket in self._buckets.items():
                bucket.level -= min(cost[name], bucket.capacity)
            return 0.0

    def block_for(self, seconds: float) -> None:
        """Refuse every reservation for `seconds` (the API said 429 with Retry-After)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)
