"""Jobs the integration tests enqueue. Names are `it.*`, unique across the test suite.

Jobs run in the test's own process (in-test `WorkerServer`) unless noted, so they report
through module-level state that an autouse fixture resets before every test. Gates are
`asyncio.Event`s created on the running loop of the current test.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from datetime import timedelta
from typing import Any

import medley

calls: list[Any] = []
"""Arguments of every `noop`/`record` run, in completion order."""

_gates: dict[str, asyncio.Event] = {}
_thread_gates: dict[str, threading.Event] = {}
_running = 0
max_running = 0
"""The most `it.track_concurrency` jobs seen running at once."""


def gate(name: str) -> asyncio.Event:
    """The event called `name` for the current test (created on first use)."""
    return _gates.setdefault(name, asyncio.Event())


def thread_gate(name: str) -> threading.Event:
    """Like `gate`, for sync jobs blocked in worker threads."""
    return _thread_gates.setdefault(name, threading.Event())


def reset() -> None:
    """Forget every call and gate; threads still blocked on a gate are let go."""
    global _running, max_running
    calls.clear()
    _gates.clear()
    for event in _thread_gates.values():
        event.set()
    _thread_gates.clear()
    _running = max_running = 0


def no_backoff(_attempt: int) -> timedelta:
    return timedelta(0)


@medley.job(name="it.noop")
async def noop(i: int) -> None:
    calls.append(i)


@medley.job(name="it.record")
def record(value: Any) -> None:
    """A sync job whose only effect is to be recorded."""
    calls.append(value)


@medley.job(name="it.echo")
def echo(value: Any) -> Any:
    return value


@medley.job(name="it.add")
async def add(ctx: medley.JobContext, a: int, b: int) -> int:
    await ctx.progress(0.5, "half")
    await ctx.progress(1.0, "done")
    return a + b


@medley.job(name="it.progress_then_wait")
async def progress_then_wait(ctx: medley.JobContext, gate_name: str) -> str:
    await ctx.progress(0.3, "working")
    await gate(gate_name).wait()
    await ctx.progress(0.9, "finishing")
    return "finished"


@medley.job(name="it.thread_name")
def thread_name() -> str:
    return threading.current_thread().name


@medley.job(name="it.pid", cpu_bound=True)
def pid() -> int:
    return os.getpid()


@medley.job(name="it.flaky", backoff=no_backoff)
async def flaky(ctx: medley.JobContext) -> int:
    """Fails its first attempt; returns the attempt number that succeeded."""
    if ctx.attempt == 1:
        raise ValueError("first attempt fails")
    return ctx.attempt


@medley.job(name="it.flaky_slow_backoff")
async def flaky_slow_backoff(ctx: medley.JobContext) -> int:
    """Like `flaky`, with the default (long) retry backoff."""
    if ctx.attempt == 1:
        raise ValueError("first attempt fails")
    return ctx.attempt


@medley.job(name="it.always_fails", max_attempts=1)
async def always_fails() -> None:
    raise RuntimeError("boom")


@medley.job(name="it.sleep")
async def sleep(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@medley.job(name="it.stubborn")
async def stubborn(name: str) -> str:
    """Loses the first cancellation, as a job awaiting a client that waits through Python
    3.11's `asyncio.wait_for` can (the cancel arrives with the reply it waits for)."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        calls.append(f"{name}: cancel lost")
    await asyncio.sleep(60)
    calls.append(f"{name}: finished")
    return "finished"


@medley.job(name="it.slow_cleanup")
async def slow_cleanup(name: str) -> None:
    """On a cancel, cleans up until the gate `name` opens, then ends cancelled."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        calls.append(f"{name}: cleaning up")
        await gate(name).wait()
        raise


@medley.job(name="it.attempt")
async def attempt(ctx: medley.JobContext) -> int:
    return ctx.attempt


@medley.job(name="it.block_first_attempt")
async def block_first_attempt(ctx: medley.JobContext) -> int:
    """Hangs on attempt 1 (to be killed or rescued); later attempts return at once.
    Also run by the worker subprocess of the kill -9 test."""
    if ctx.attempt == 1:
        await asyncio.sleep(3600)
    return ctx.attempt


@medley.job(name="it.sync_progress_then_wait")
def sync_progress_then_wait(ctx: medley.JobContext, gate_name: str) -> str:
    ctx.set_progress(0.4, "in a thread")
    if not thread_gate(gate_name).wait(timeout=30):
        raise TimeoutError("gate never opened")
    return "finished"


@medley.job(name="it.cpu_with_ctx", cpu_bound=True)
def cpu_with_ctx(ctx: medley.JobContext, n: int) -> int:
    return n * 2


@medley.job(name="it.returns_set")
async def returns_set() -> set[int]:
    return {1, 2}


@medley.job(name="it.track_concurrency")
async def track_concurrency(i: int) -> None:
    global _running, max_running
    _running += 1
    max_running = max(max_running, _running)
    await asyncio.sleep(0.02)
    _running -= 1
    calls.append(i)


@medley.job(name="it.sync_sleep")
def sync_sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
