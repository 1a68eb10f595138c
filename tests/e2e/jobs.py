"""Jobs the e2e tests run in `medley worker` subprocesses (`--import tests.e2e.jobs`).
Names are `e2e.*`, unique across the test suite. They talk to the test only through the
job store and the file system, since they run in another process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import medley

GATE_POLL_SECONDS = 0.05


@medley.job(name="e2e.add")
async def add(a: int, b: int) -> int:
    return a + b


@medley.job(name="e2e.wait_for_file", max_attempts=3)
async def wait_for_file(ctx: medley.JobContext, path: str) -> str:
    """Runs until the file `path` exists: a job that is still running whenever the test
    wants it to be (for shutdown and cancellation)."""
    await ctx.progress(0.0, f"waiting for {path}")
    while not await asyncio.to_thread(Path(path).exists):
        ctx.raise_if_cancelled()
        await asyncio.sleep(GATE_POLL_SECONDS)
    return "released"


@medley.job(name="e2e.fail", max_attempts=1)
def fail(message: str) -> None:
    """Fails for good on its only attempt (a dead-letter job for `jobs retry`)."""
    raise RuntimeError(message)
