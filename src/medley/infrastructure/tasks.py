"""Stopping a background task for good.

Python 3.11's `asyncio.wait_for` returns normally when a cancellation arrives in the same
tick as the result it waits for (CPython gh-86296, fixed in 3.12), and psycopg waits on
its socket through it for every statement. So a task cancelled just as a query's answer
arrives can carry on as if it had not been: a maintenance loop went back to sleep, and a
worker's shutdown waited on it for good (the SIGTERM end-to-end test hung in about one
run in fifteen). Every long-lived loop is therefore stopped with `cancel_and_wait`, which
cancels again until the task has ended, and a job, whose own code may wait the same way,
with `cancel_until_done` or `cancel_job_and_wait`.
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


JOB_CANCEL_AGAIN_SECONDS = 5.0
"""How long a job may take to end after a cancel (a user's, a timeout's, a shutdown's)
before it is cancelled again: time for its own cleanup."""


def cancel_until_done(task: asyncio.Task[Any]) -> None:
    """Cancel a job's task now, and again every `JOB_CANCEL_AGAIN_SECONDS` until it has
    ended, without waiting for it. Once the job's own code has returned, its task ends
    without another suspension, so a repeated cancel never cuts into recording the
    outcome."""
    if not task.done():
        task.cancel()
        asyncio.get_running_loop().call_later(JOB_CANCEL_AGAIN_SECONDS, cancel_until_done, task)


async def cancel_job_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel a job's task every `JOB_CANCEL_AGAIN_SECONDS` until it has ended, and wait.
    A cancel of the caller meanwhile (a user's cancel after a timeout, a shutdown) changes
    nothing: the job is already being stopped, its cleanup keeps its time, and leaving it
    would let it run on unowned. Its outcome is retrieved, not raised: the caller's own
    outcome stands."""
    loop = asyncio.get_running_loop()
    while not task.done():
        task.cancel()
        again = loop.time() + JOB_CANCEL_AGAIN_SECONDS
        while not task.done() and (left := again - loop.time()) > 0:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task}, timeout=left)
    if not task.cancelled():
        task.exception()
