"""The chaos loop: every `kill_every` seconds, SIGKILL a random worker process (and start
its replacement `restart_delay` later); halfway between kills, terminate a random share of
the workers' database backends. Beside it, a watcher restarts any worker that exits on
its own (a crash: reported, and a failed check)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tools.chaos import database as db
from tools.chaos.processes import WorkerPool, WorkerSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class MonkeyConfig:
    kill_every: float = 3.0
    max_kills: int | None = None
    restart_delay: float = 0.5
    terminate_share: float = 0.4


class Monkey:
    def __init__(
        self,
        pool: WorkerPool,
        spec: WorkerSpec,
        slots: Sequence[str],
        conn: db.Conn,
        rng: random.Random,
        config: MonkeyConfig,
        emit: Callable[[str], None],
    ) -> None:
        self.pool = pool
        self.spec = spec
        self.slots = list(slots)
        self.conn = conn
        self.rng = rng
        self.config = config
        self.emit = emit
        self.terminated = 0
        self._restarts: set[asyncio.Task[None]] = set()
        self._restarting: set[str] = set()
        self._stopping = asyncio.Event()

    @property
    def done(self) -> bool:
        limit = self.config.max_kills
        return limit is not None and len(self.pool.kills) >= limit

    async def run(self) -> None:
        """The chaos loop and the crash watcher, until `stop()`."""
        await asyncio.gather(self._chaos(), self._watch())

    async def _watch(self) -> None:
        while await self._sleep(0.2):
            for crash in self.pool.reap_crashed(self._restarting):
                self.emit(
                    f"  CRASH: {crash.slot} pid {crash.pid} exited with {crash.code} on its "
                    f"own; log {self.pool.logs[crash.pid]}"
                )
                self._schedule_restart(crash.slot)

    def _schedule_restart(self, slot: str) -> None:
        self._restarting.add(slot)
        task = asyncio.create_task(self._restart(slot))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _chaos(self) -> None:
        half = self.config.kill_every / 2
        while not self.done:
            if not await self._sleep(half):
                return
            n = await db.terminate_backends(self.conn, self.rng, self.config.terminate_share)
            self.terminated += n
            if not await self._sleep(half):
                return
            alive = [s for s in self.slots if s not in self._restarting and self.pool.alive(s)]
            if not alive:
                continue
            slot = self.rng.choice(alive)
            self._restarting.add(slot)
            kill = await asyncio.to_thread(self.pool.kill, slot)
            self.emit(
                f"  chaos: kill -9 {slot} pid {kill.pid} (kill #{len(self.pool.kills)}); "
                f"{n} backends terminated before it, {self.terminated} in all"
            )
            self._schedule_restart(slot)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep; False if the loop was asked to stop meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return not self._stopping.is_set()

    async def _restart(self, slot: str) -> None:
        await asyncio.sleep(self.config.restart_delay)
        worker = await asyncio.to_thread(self.pool.start, slot, self.spec)
        self._restarting.discard(slot)
        self.emit(f"  chaos: restarted {slot} as pid {worker.pid}")

    async def stop(self, task: asyncio.Task[None]) -> None:
        """End the loop `task` after its current step, then let pending restarts finish
        (so every slot has a live worker to stop gracefully)."""
        self._stopping.set()
        await task
        if self._restarts:
            await asyncio.gather(*self._restarts, return_exceptions=True)
