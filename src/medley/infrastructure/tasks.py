"""Stopping a background task for good.

Python 3.11's `asyncio.wait_for` returns normally when a cancellation arrives in the same
tick as the result it waits for (CPython gh-86296, fixed in 3.12), and psycopg waits on
its socket through it for every statement. So a task cancelled just as a query's answer
arrives can carry on as if it had not been: a maintenance loop went back to sleep, and a
worker's shutdown waited on it for good (the SIGTERM end-to-end test hung in about one
run in fifteen). Every long-lived loop is therefore stopped with `cancel_and_wait`, which
cancels again until the task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

CANCEL_AGAIN_SECONDS = 1.0
"""How long a cancelled task may take to end before it is cancelled again: long enough
for its own cleanup, short enough that a lost cancellation costs a shutdown one second."""


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has ended. Its cancellation is not re-raised here;
    any other exception it ended with is, as `await task` would."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_AGAIN_SECONDS)
    with contextlib.suppress(asyncio.CancelledError):
        await task
