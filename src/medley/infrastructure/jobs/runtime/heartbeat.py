"""The worker's pulse: register, refresh the server row (CPU, memory, running jobs, slot
use per queue, whether resource throttling paused fetching and why), and pick up cancel
requests that a NOTIFY may have missed."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import psutil

from medley.infrastructure.jobs.runtime.service import BaseService
from medley.infrastructure.jobs.storage.port import JobStore, ServerParams


class Heartbeat(BaseService):
    name = "heartbeat"

    def __init__(
        self,
        store: JobStore,
        *,
        worker_id: str,
        queues: Sequence[str],
        concurrency: int,
        interval: float,
        running: Callable[[], int],
        reconcile: Callable[[], Awaitable[int]],
        slots: Callable[[], dict[str, dict[str, int]]] | None = None,
        throttle: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__(interval)
        self.store = store
        self.worker_id = worker_id
        self.queues = list(queues)
        self.concurrency = concurrency
        self.running = running
        self.reconcile = reconcile
        self.slots = slots
        self.throttle = throttle
        self.started_at = datetime.now(UTC)
        self._process = psutil.Process(os.getpid())
        self._process.cpu_percent(None)  # prime: the first reading is always 0

    async def run_once(self) -> int:
        """Beat once, then reconcile the jobs the database says we hold with those we run;
        returns how many needed action (cancel requested, or claimed but never started)."""
        # Re-checked here too, so an idle worker's row tells the truth between fetches.
        reason = self.throttle() if self.throttle is not None else None
        await self.store.server_heartbeat(
            ServerParams(
                id=self.worker_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                queues=self.queues,
                concurrency=self.concurrency,
                running=self.running(),
                cpu_percent=self._process.cpu_percent(None),
                rss_bytes=self._process.memory_info().rss,
                started_at=self.started_at,
                slots=self.slots() if self.slots is not None else {},
                throttled=reason is not None,
                info={"throttle_reason": reason} if reason is not None else {},
            )
        )
        return await self.reconcile()
