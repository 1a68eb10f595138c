"""CPU-bound jobs in child processes that can be killed one at a time.

`concurrent.futures.ProcessPoolExecutor` cannot stop one task, and a child that crashes
breaks the whole pool. Here each child runs one job at a time over a pipe: a timeout or a
cancel kills just that child, a crash (segfault, `os._exit`, out of memory) fails just that
job, and a fresh child takes the slot on the next job.

Recycling is the cure for leaky libraries (ML frameworks that keep caches, C extensions
that never free): a child is retired after `max_jobs` jobs or once its RSS is above
`max_rss_mb`, always between jobs, never during one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from multiprocessing.connection import Connection
from typing import Any

import psutil

from medley.infrastructure.jobs.control import Retry, Snooze

log = logging.getLogger("medley.worker")

KILL_GRACE_SECONDS = 2.0
CHILD_MODULE = "medley.infrastructure.jobs.runtime._child"


class RemoteJobError(Exception):
    """An exception raised by a job in a child process, carried back by type name."""

    def __init__(self, type_name: str, message: str, remote_traceback: str) -> None:
        self.type_name = type_name
        self.remote_traceback = remote_traceback
        super().__init__(message)


class WorkerProcessDiedError(Exception):
    """The child process running the job died (crash, `os._exit`, killed by the OS)."""


class _Child:
    """A `python -m` child rather than a multiprocessing.Process: spawn-style children
    re-import the parent's `__main__`, which breaks scripts without a main guard."""

    def __init__(self) -> None:
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", CHILD_MODULE, str(to_child_r), str(to_parent_w)],
            pass_fds=(to_child_r, to_parent_w),
            env=env,
        )
        os.close(to_child_r)
        os.close(to_parent_w)
        self.sender = Connection(to_child_w, readable=False)
        self.conn = Connection(to_parent_r, writable=False)
        self.jobs = 0
        """Jobs this child has finished."""

    def rss_bytes(self) -> int:
        try:
            return int(psutil.Process(self.process.pid).memory_info().rss)
        except psutil.Error:
            return 0

    def kill(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(KILL_GRACE_SECONDS)
        self.sender.close()
        self.conn.close()


def _kill_started(starting: asyncio.Future[_Child]) -> None:
    if not starting.cancelled() and starting.exception() is None:
        starting.result().kill()


class ProcessRunner:
    """Up to `size` children, started on first use and reused while healthy and within
    the recycling bounds (`max_jobs` jobs, `max_rss_mb` MiB of RSS; None: unbounded)."""

    def __init__(
        self, size: int, *, max_jobs: int | None = None, max_rss_mb: float | None = None
    ) -> None:
        if size < 1:
            raise ValueError("a process runner needs at least one process")
        if (max_jobs is not None and max_jobs < 1) or (max_rss_mb is not None and max_rss_mb <= 0):
            raise ValueError("child recycling bounds must be positive")
        self.max_jobs = max_jobs
        self.max_rss_mb = max_rss_mb
        self.recycled = 0
        """Children retired by the recycling bounds (tests, logs)."""
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Child] = []
        self._busy: set[_Child] = set()
        self._retiring: set[_Child] = set()
        """Recycled children being stopped in the background."""

    async def run(
        self,
        module: str,
        name: str,
        args: list[Any],
        kwargs: dict[str, Any],
        *,
        identity: tuple[Any, ...],
        on_progress: Callable[[float, str | None], None],
        logging_settings: dict[str, Any] | None = None,
        on_log: Callable[[str, tuple[Any, ...]], None] | None = None,
        on_usage: Callable[[float], None] | None = None,
    ) -> Any:
        """Run the job in a child (its `ctx` reports progress and `report_usage` tokens
        through the pipe, to `on_progress` and `on_usage`). Cancelling the caller (timeout,
        user cancel, shutdown) kills the child; raises `RemoteJobError`,
        `WorkerProcessDiedError`, or the job's own `Snooze` / `Retry` (with their delay and
        `limit_backoff`), as a job run in the worker would."""
        async with self._slots:
            child = self._idle.pop() if self._idle else await self._spawn()
            self._busy.add(child)
            healthy = False
            try:
                request = (module, name, args, kwargs, identity, logging_settings or {})
                child.sender.send(request)
                while True:
                    kind, *payload = await self._receive(child)
                    if kind == "progress":
                        on_progress(*payload)
                    elif kind == "usage":
                        if on_usage is not None:
                            on_usage(*payload)
                    elif kind in ("log", "record"):
                        if on_log is not None:
                            on_log(kind, tuple(payload))
                    else:
                        break
                healthy = True
            finally:
                self._busy.discard(child)
                if healthy:
                    child.jobs += 1
                    reason = self._recycle_reason(child)
                    if reason is None:
                        self._idle.append(child)
                    else:
                        self.recycled += 1
                        log.info("recycling job process pid %d: %s", child.process.pid, reason)
                        self._retire(child)
                else:
                    # Shielded: a second cancel (a repeated cancel request, shutdown) must
                    # not leave the child running.
                    await asyncio.shield(asyncio.to_thread(child.kill))
        if kind == "ok":
            return payload[0]
        if kind == "snooze":
            seconds, reason, limit_backoff = payload
            raise Snooze(timedelta(seconds=seconds), reason, limit_backoff=limit_backoff)
        if kind == "retry":
            seconds, reason = payload
            raise Retry(None if seconds is None else timedelta(seconds=seconds), reason)
        raise RemoteJobError(*payload[0])

    def _retire(self, child: _Child) -> None:
        """Stop a recycled child off the job's path: its job's outcome is in hand, and no
        timeout or cancel arriving while the child winds down may take it away."""
        self._retiring.add(child)
        stopping = asyncio.ensure_future(asyncio.to_thread(child.kill))
        stopping.add_done_callback(lambda _: self._retiring.discard(child))

    def _recycle_reason(self, child: _Child) -> str | None:
        """Why `child`, between jobs, must be retired; None to keep it."""
        if self.max_jobs is not None and child.jobs >= self.max_jobs:
            return f"{child.jobs} jobs done (max {self.max_jobs})"
        if self.max_rss_mb is not None:
            rss_mb = child.rss_bytes() / (1024 * 1024)
            if rss_mb > self.max_rss_mb:
                return f"rss {rss_mb:.0f} MB > {self.max_rss_mb:g} MB"
        return None

    @staticmethod
    async def _spawn() -> _Child:
        """A new child; if the caller is cancelled while it starts, it is killed, not
        leaked."""
        starting = asyncio.ensure_future(asyncio.to_thread(_Child))
        try:
            return await asyncio.shield(starting)
        except asyncio.CancelledError:
            starting.add_done_callback(_kill_started)
            raise

    async def _receive(self, child: _Child) -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        if not child.conn.poll():
            ready: asyncio.Future[None] = loop.create_future()
            fd = child.conn.fileno()

            def wake() -> None:
                if not ready.done():
                    ready.set_result(None)

            loop.add_reader(fd, wake)
            try:
                await ready
            finally:
                loop.remove_reader(fd)
        try:
            message: tuple[Any, ...] = child.conn.recv()
        except (EOFError, OSError) as exc:
            try:
                code: int | None = await asyncio.to_thread(child.process.wait, KILL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                code = None
            raise WorkerProcessDiedError(
                f"the process running the job died (exit code {code})"
            ) from exc
        return message

    def close(self) -> None:
        for child in [*self._idle, *self._busy, *self._retiring]:
            with contextlib.suppress(Exception):
                child.kill()
        self._idle.clear()
        self._busy.clear()
        self._retiring.clear()
