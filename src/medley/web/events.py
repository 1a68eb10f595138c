"""Live job updates for event streams: one feed per process, fanned out to subscribers.

On PostgreSQL the feed is the store's single LISTEN connection on `medley_event` (a
trigger names the jobs whose state or progress changed); a slow poll backs it up in case
a notification is lost while the connection reconnects. On SQLite, which cannot notify
across processes, the hub polls the jobs that someone is watching, once per interval for
all of their subscribers together. Either way a job is read once per change, however many
clients follow it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from medley.application.errors import JobNotFoundError, MedleyError
from medley.application.models.jobs import JobInfo
from medley.infrastructure.jobs.storage.port import CHANNEL_EVENTS, Subscription
from medley.infrastructure.services.background_job_service import JobService
from medley.infrastructure.tasks import cancel_and_wait

log = logging.getLogger("medley.web.events")

POLL_SECONDS_NOTIFIED = 5.0
"""Back-up poll when notifications feed the hub (they may be lost during a reconnect)."""
POLL_SECONDS_POLLING = 0.25
"""Poll interval without notifications (SQLite)."""


def version_of(info: JobInfo) -> str:
    """A short tag of what a subscriber sees: equal tags mean nothing new to send. Used as
    the SSE event id, so a reconnecting client's Last-Event-ID says what it already has."""
    seen = (
        info.state.value,
        info.attempt,
        len(info.history),
        round(info.progress.fraction, 4),
        info.progress.message,
        info.cancel_requested,
    )
    return hashlib.blake2s(repr(seen).encode(), digest_size=6).hexdigest()


class _Watch:
    def __init__(self) -> None:
        self.latest: JobInfo | None = None
        self.changed = asyncio.Event()
        self.gone = False


class JobEventHub:
    """Start once per app; `watch(job_id)` yields the job each time it changes."""

    def __init__(self, service: JobService, *, poll_seconds: float | None = None) -> None:
        self.service = service
        self._poll_seconds = poll_seconds
        self._watches: dict[int, set[_Watch]] = {}
        self._dirty: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._closed = False

    @property
    def notified(self) -> bool:
        return self._subscription is not None

    @property
    def subscribers(self) -> int:
        return sum(len(w) for w in self._watches.values())

    async def start(self) -> None:
        self._subscription = await self.service.store.subscribe_events(self._on_notification)
        self._task = asyncio.create_task(self._run(), name="medley-event-hub")

    async def close(self) -> None:
        """Stop the feed and end every open stream (they see `gone`)."""
        self._closed = True
        if self._subscription is not None:
            await self._subscription.close()
        if self._task is not None:
            await cancel_and_wait(self._task)
        for watches in self._watches.values():
            for watch in watches:
                watch.gone = True
                watch.changed.set()

    def _on_notification(self, channel: str, payload: str) -> None:
        if channel != CHANNEL_EVENTS:
            return
        if not payload:  # the listener reconnected: anything may have changed
            self._dirty.update(self._watches)
        else:
            for part in payload.split(","):
                with contextlib.suppress(ValueError):
                    job_id = int(part)
                    if job_id in self._watches:
                        self._dirty.add(job_id)
        if self._dirty:
            self._wake.set()

    @contextlib.asynccontextmanager
    async def _registered(self, job_id: int) -> AsyncIterator[_Watch]:
        watch = _Watch()
        self._watches.setdefault(job_id, set()).add(watch)
        try:
            yield watch
        finally:
            watches = self._watches.get(job_id)
            if watches is not None:
                watches.discard(watch)
                if not watches:
                    del self._watches[job_id]

    async def watch(self, job_id: int, *, heartbeat: float) -> AsyncGenerator[JobInfo | None, None]:
        """The job now, then each time it changes; None every `heartbeat` seconds without
        a change (so the stream can send a keep-alive). Ends when the job is deleted or
        the hub closes. Raises `JobNotFoundError` if the job does not exist at the start."""
        async with self._registered(job_id) as watch:
            yield await self.service.get(job_id)
            while not (watch.gone or self._closed):
                watch.changed.clear()
                try:
                    await asyncio.wait_for(watch.changed.wait(), heartbeat)
                except TimeoutError:
                    yield None
                    continue
                if watch.latest is not None:
                    yield watch.latest

    async def _run(self) -> None:
        interval = self._poll_seconds or (
            POLL_SECONDS_NOTIFIED if self.notified else POLL_SECONDS_POLLING
        )
        while True:
            woken = True
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except TimeoutError:
                woken = False
            self._wake.clear()
            due = set(self._dirty) if woken else set(self._watches)
            self._dirty.clear()
            for job_id in due:
                await self._refresh(job_id)

    async def _refresh(self, job_id: int) -> None:
        watches = self._watches.get(job_id)
        if not watches:
            return
        try:
            info: JobInfo | None = await self.service.get(job_id)
        except JobNotFoundError:
            info = None
        except MedleyError as exc:  # storage trouble: keep streams open, try next time
            log.warning("reading job %s for event streams failed: %s", job_id, exc)
            return
        for watch in list(watches):
            if info is None:
                watch.gone = True
            elif watch.latest is None or version_of(watch.latest) != version_of(info):
                watch.latest = info
            else:
                continue
            watch.changed.set()
