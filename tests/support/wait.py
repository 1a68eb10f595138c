"""The one sanctioned way for a test to wait: poll a condition until it holds.

A bare `asyncio.sleep()` standing for "long enough" makes a suite slow and flaky at once;
`wait_for` returns as soon as the condition holds and fails with a message when it never
does.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def wait_for(
    predicate: Callable[[], Awaitable[bool]] | Callable[[], bool],
    timeout: float = 5.0,
    interval: float = 0.01,
    *,
    message: str | None = None,
) -> None:
    """Return once `predicate()` is true (sync or async); raise AssertionError after
    `timeout` seconds otherwise. The predicate is checked once more at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        outcome = predicate()
        ok = bool(await outcome) if inspect.isawaitable(outcome) else bool(outcome)
        if ok:
            return
        if loop.time() >= deadline:
            what = message or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"condition not met within {timeout:g} s: {what}")
        await asyncio.sleep(interval)
