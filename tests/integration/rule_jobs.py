"""Jobs for test_failure_rules: retry control, exception rules, sync cancellation."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import medley

seen: list[tuple[str, int]] = []
"""(job, attempt) for every run, in order."""
sync_stopped = threading.Event()
"""Set by a sync job once it saw its cooperative cancel flag."""


def reset() -> None:
    seen.clear()
    _gates.clear()
    sync_stopped.clear()


def _no_backoff(_attempt: int) -> timedelta:
    return timedelta(0)


class FlakyUpstreamError(Exception):
    pass


@medley.job(name="it.rules.snooze_once", max_attempts=1)
async def snooze_once(ctx: medley.JobContext) -> str:
    seen.append(("snooze_once", ctx.attempt))
    if len(seen) == 1:
        raise medley.Snooze(0.05, "HTTP 429: come back later")
    return "done"


@medley.job(name="it.rules.retry_with_delay", max_attempts=3)
async def retry_with_delay(ctx: medley.JobContext) -> int:
    seen.append(("retry_with_delay", ctx.attempt))
    if ctx.attempt == 1:
        raise medley.Retry(delay=0, reason="upstream asked for a retry")
    return ctx.attempt


@medley.job(
    name="it.rules.retry_on_only",
    max_attempts=5,
    retry_on=(FlakyUpstreamError,),
    backoff=_no_backoff,
)
async def retry_on_only(ctx: medley.JobContext, kind: str) -> None:
    seen.append(("retry_on_only", ctx.attempt))
    raise FlakyUpstreamError("flaky") if kind == "flaky" else KeyError("bad input")


@medley.job(
    name="it.rules.discard_on", max_attempts=5, discard_on=(ValueError,), backoff=_no_backoff
)
async def discard(ctx: medley.JobContext) -> None:
    seen.append(("discard_on", ctx.attempt))
    raise ValueError("never worth retrying")


@medley.job(name="it.rules.cooperative", max_attempts=1)
def cooperative(ctx: medley.JobContext) -> str:
    """A sync job in a thread: it cannot be interrupted, so it checks its flag."""
    while not ctx.cancelled:
        threading.Event().wait(0.01)
    sync_stopped.set()
    ctx.raise_if_cancelled()
    return "not reached"


@medley.job(name="it.rules.long_async")
async def long_async(ctx: medley.JobContext, gate: str) -> int:
    seen.append(("long_async", ctx.attempt))
    await _gate(gate).wait()
    return ctx.attempt


_gates: dict[str, asyncio.Event] = {}


def _gate(name: str) -> asyncio.Event:
    return _gates.setdefault(name, asyncio.Event())


def open_gate(name: str) -> None:
    _gate(name).set()
