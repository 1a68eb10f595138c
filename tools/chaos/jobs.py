"""The chaos job. Each execution appends a `start` line before its work and an `end` line
after it to a file of its own worker process, independently of the job tables, so the
checker can compare what ran with what the database says.

One `os.write` of one line to a file opened with O_APPEND is atomic, and a `kill -9`
loses nothing already written (the data is in the kernel's page cache)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import medley

LOG_DIR_ENV = "MEDLEY_CHAOS_LOG_DIR"
JOB_NAME = "chaos.work"

_fd: int | None = None


def _log_fd() -> int | None:
    global _fd
    directory = os.environ.get(LOG_DIR_ENV)
    if not directory:
        return None
    if _fd is None:
        path = Path(directory) / f"exec-{os.getpid()}.log"
        _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    return _fd


def record(event: dict[str, object]) -> None:
    """Append one JSON line to this process's execution log (no-op without a log dir)."""
    fd = _log_fd()
    if fd is not None:
        os.write(fd, (json.dumps(event, separators=(",", ":")) + "\n").encode())


@medley.job(name=JOB_NAME)
async def work(ctx: medley.JobContext, i: int, seconds: float) -> dict[str, int]:
    """Sleep `seconds` (chosen by the runner, so a seed replays the same load)."""
    pid = os.getpid()
    started = time.time()
    base = {"job": ctx.job_id, "attempt": ctx.attempt, "pid": pid, "i": i}
    record({"ev": "start", **base, "t": started})
    await asyncio.sleep(seconds)
    record({"ev": "end", **base, "start": started, "t": time.time()})
    return {"i": i, "pid": pid, "attempt": ctx.attempt}
