"""Failure notifications: callbacks run after a failed attempt's outcome is committed.

`on_failure` hears every failed attempt (retried or not); `on_dead` only jobs that ended
in the dead-letter queue. Callbacks run off the completion path, so a slow or failing
callback never delays the worker; their errors are logged.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.storage.port import JobCompletion

log = logging.getLogger("medley.notifications")


@dataclass(frozen=True, slots=True)
class FailureEvent:
    job_id: int
    job: str
    queue: str
    attempt: int
    error: dict[str, Any]
    dead: bool
    """True when the job ended `failed` (no retry follows)."""
    worker: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "job.dead" if self.dead else "job.failed",
            "job_id": self.job_id,
            "job": self.job,
            "queue": self.queue,
            "attempt": self.attempt,
            "error": {k: v for k, v in self.error.items() if k != "traceback"},
            "worker": self.worker,
            "at": self.at.isoformat(),
        }


FailureCallback = Callable[[FailureEvent], Awaitable[None] | None]


class FailureNotifications:
    """A registry of failure callbacks; `medley.on_failure` / `medley.on_dead` fill the
    default one, which every WorkerServer uses unless given another."""

    def __init__(self) -> None:
        self.on_failure_callbacks: list[FailureCallback] = []
        self.on_dead_callbacks: list[FailureCallback] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def on_failure(self, callback: FailureCallback) -> FailureCallback:
        self.on_failure_callbacks.append(callback)
        return callback

    def on_dead(self, callback: FailureCallback) -> FailureCallback:
        self.on_dead_callbacks.append(callback)
        return callback

    def outcomes_written(
        self, worker: str, completions: Sequence[JobCompletion], written: set[int]
    ) -> None:
        """Called by the completer after a batch commit: notify for written failures."""
        for c in completions:
            if c.error is None or c.id not in written:
                continue
            if c.state not in (JobState.SCHEDULED, JobState.FAILED) or c.release:
                continue
            event = FailureEvent(
                job_id=c.id,
                job=c.job,
                queue=c.queue,
                attempt=c.attempt,
                error=c.error,
                dead=c.state is JobState.FAILED,
                worker=worker,
            )
            callbacks = [*self.on_failure_callbacks]
            if event.dead:
                callbacks += self.on_dead_callbacks
            for callback in callbacks:
                self._spawn(callback, event)

    def _spawn(self, callback: FailureCallback, event: FailureEvent) -> None:
        task = asyncio.create_task(self._call(callback, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _call(callback: FailureCallback, event: FailureEvent) -> None:
        try:
            result = callback(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("failure callback %r raised for job %s", callback, event.job_id)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for callbacks in flight (used at shutdown and by tests)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)


DEFAULT_NOTIFICATIONS = FailureNotifications()
on_failure = DEFAULT_NOTIFICATIONS.on_failure
on_dead = DEFAULT_NOTIFICATIONS.on_dead
