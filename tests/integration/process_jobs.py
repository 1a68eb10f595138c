"""CPU-bound jobs for test_process_jobs: they run in child processes, so they report
through their results and the database, never through module state."""

from __future__ import annotations

import os
import time

import medley


@medley.job(name="it.proc.progress", cpu_bound=True)
def report_progress(ctx: medley.JobContext, steps: int) -> dict[str, int]:
    for step in range(steps):
        ctx.set_progress((step + 1) / steps, f"step {step + 1}/{steps}")
    return {"pid": os.getpid(), "attempt": ctx.attempt}


@medley.job(name="it.proc.spin", cpu_bound=True)
def spin_forever(marker: str) -> None:
    partial = f"{marker}.partial"
    with open(partial, "w") as f:
        f.write(str(os.getpid()))
    os.replace(partial, marker)  # readers never see an empty file
    while True:
        time.sleep(0.01)


@medley.job(name="it.proc.crash", cpu_bound=True)
def crash_hard() -> None:
    os._exit(7)


@medley.job(name="it.proc.pid", cpu_bound=True)
def child_pid() -> int:
    return os.getpid()
