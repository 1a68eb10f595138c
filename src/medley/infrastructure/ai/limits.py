"""How many calls of a local model run at once in this process.

`InferenceSlots` is the concurrency limit on a local model: a fixed set of threads
(one per worker process by default) that every embedding job queues on, so ten job
slots never mean ten models fighting over two cores. An API's requests and tokens per
minute are not kept here but cluster-wide, by the engine's named limits (rate and token
budget; see `medley.infrastructure.jobs.limits` and `ai/llm.py`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
