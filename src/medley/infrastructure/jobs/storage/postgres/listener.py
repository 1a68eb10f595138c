"""One LISTEN connection per process, fanned out to every subscriber in it.

Workers and event streams subscribe here instead of each holding a connection. If the
connection drops, it reconnects with backoff; subscribers are told through a synthetic
notification on every channel so they re-check state they may have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from psycopg import sql

from medley.infrastructure.jobs.storage.port import (
    CHANNEL_CANCEL,
    CHANNEL_JOBS,
    NotificationCallback,
)
from medley.infrastructure.tasks import cancel_and_wait

log = logging.getLogger(__name__)

RECONNECT_DELAY_MAX = 5.0
CHANNELS = (CHANNEL_JOBS, CHANNEL_CANCEL)


class PostgresListener:
    """Shared LISTEN connection. Start it once; add and remove callbacks freely."""

    def __init__(self, conninfo: str, channels: tuple[str, ...] = CHANNELS) -> None:
        self._conninfo = conninfo
        self._channels = channels
        self._callbacks: list[NotificationCallback] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def subscribe(self, callback: NotificationCallback) -> _ListenerSubscription:
        self._callbacks.append(callback)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="medley-pg-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=5)
        return _ListenerSubscription(self, callback)

    def _remove(self, callback: NotificationCallback) -> None:
        with contextlib.suppress(ValueError):
            self._callbacks.remove(callback)

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    def _dispatch(self, channel: str, payload: str) -> None:
        for callback in list(self._callbacks):
            try:
                callback(channel, payload)
            except Exception:
                log.exception("notification callback failed")

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._ready.clear()
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_DELAY_MAX)
                for channel in self._channels:
                    self._dispatch(channel, "")

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
            for channel in self._channels:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self._ready.set()
            async for note in conn.notifies():
                self._dispatch(note.channel, note.payload)


class _ListenerSubscription:
    def __init__(self, listener: PostgresListener, callback: NotificationCallback) -> None:
        self._listener = listener
        self._callback = callback

    async def close(self) -> None:
        self._listener._remove(self._callback)
