"""Jobs of the workflow integration tests (names `itw.*`). They run in the test's own
process; `fan_out` reaches the database through the service the test hands it."""

from __future__ import annotations

from typing import Any

import medley

service: medley.JobService | None = None
"""Set by a test whose jobs enqueue more work (a job has no service of its own)."""
summaries: list[dict[str, Any]] = []
"""The `batch` argument of every `on_batch_done` run."""


def reset() -> None:
    global service
    service = None
    summaries.clear()


@medley.job(name="itw.step")
async def step(n: int) -> int:
    return n


@medley.job(name="itw.fail", max_attempts=1)
async def fail() -> None:
    raise RuntimeError("the parent fails")


@medley.job(name="itw.on_batch_done")
async def on_batch_done(batch: dict[str, Any]) -> int:
    summaries.append(batch)
    return int(batch["total"])


@medley.job(name="itw.fan_out")
async def fan_out(ctx: medley.JobContext, count: int) -> int:
    """Discovers `count` more pieces of work at run time and adds them to its own batch."""
    assert service is not None
    assert ctx.batch_id is not None
    more = [medley.EnqueueRequest(job="itw.step", args=(i,)) for i in range(count)]
    await service.batch_add(ctx.batch_id, more)
    return count
