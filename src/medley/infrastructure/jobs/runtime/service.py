"""Periodic services: a `run_once()` that tests call directly, and a loop around it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from medley.infrastructure.tasks import cancel_and_wait

log = logging.getLogger("medley.worker")


class BaseService:
    """Runs `run_once()` every `interval` seconds until stopped. A failing pass is logged
    and the next tick tries again: a maintenance error never stops the worker."""

    name = "service"

    def __init__(self, interval: float) -> None:
        if interval <= 0:
            raise ValueError(f"{self.name}: interval must be positive")
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()

    async def run_once(self) -> Any:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"medley-{self.name}")

    def kick(self) -> None:
        """Run the next pass now instead of at the next tick."""
        self._kick.set()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def run_pass(self) -> float:
        """One pass of the loop; the seconds until the next. A service that knows when it
        will next have work sleeps until then (see the recurring scheduler)."""
        await self.run_once()
        return self.interval

    async def _loop(self) -> None:
        while True:
            wait = self.interval
            try:
                wait = await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s pass failed; retrying next tick", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), wait)
            self._kick.clear()
