"""Jobs of the observability tests (names `obs.*`): they log in every way a job can."""

from __future__ import annotations

import logging
from datetime import timedelta

import medley

library = logging.getLogger("obs.library")
"""Stands for a library the job calls: it knows nothing of Medley."""


@medley.job(name="obs.chatty")
async def chatty(ctx: medley.JobContext, lines: int = 1) -> int:
    """Logs through ctx.log, its own module's logger and a library's logger."""
    ctx.log.debug("debug detail")
    for i in range(lines):
        ctx.log.info("line %d of %d", i + 1, lines)
    logging.getLogger(__name__).warning("from the job's own logger")
    library.warning("from a library")
    return lines


@medley.job(name="obs.sync_chatty")
def sync_chatty(ctx: medley.JobContext) -> str:
    """Runs in a worker thread: the fields follow it there."""
    ctx.log.info("in a thread")
    library.warning("library call in a thread")
    return "ok"


@medley.job(name="obs.broken", max_attempts=1)
async def broken(ctx: medley.JobContext) -> None:
    try:
        raise ValueError("bad input")
    except ValueError:
        ctx.log.exception("could not parse")
        raise


@medley.job(name="obs.noop")
async def noop() -> None:
    return None


def no_backoff(_attempt: int) -> timedelta:
    return timedelta(0)


@medley.job(name="obs.flaky", backoff=no_backoff)
async def flaky(ctx: medley.JobContext) -> int:
    if ctx.attempt == 1:
        raise RuntimeError("first attempt fails")
    return ctx.attempt


@medley.job(name="obs.fails", max_attempts=1)
async def fails() -> None:
    raise RuntimeError("always")


@medley.job(name="obs.cpu_chatty", cpu_bound=True)
def cpu_chatty(ctx: medley.JobContext) -> int:
    """Runs in a child process: its records and ctx.log lines come back to the worker."""
    ctx.log.info("in a child process")
    library.warning("library call in a child process")
    return 1


medley.limit("obs-api", rate=60, tokens=10_000, per=3600)  # refills slowly: sums stay


@medley.job(name="obs.rated", limit="obs-api", tokens=400)
async def rated() -> None:
    """Spends one start and reserves 400 tokens of `obs-api` (the metrics test's gauges)."""
