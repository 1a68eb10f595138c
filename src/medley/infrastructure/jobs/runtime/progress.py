"""Coalesced progress writes: a job may report progress thousands of times a second; the
database sees at most one batched write per interval, holding each job's latest value."""

from __future__ import annotations

import asyncio
import logging

from medley.application.errors import StorageError
from medley.infrastructure.jobs.storage.port import JobStore, ProgressUpdate
from medley.infrastructure.tasks import cancel_and_wait

log = logging.getLogger("medley.worker")


class ProgressFlusher:
    def __init__(self, store: JobStore, worker_id: str, *, interval: float) -> None:
        self.store = store
        self.worker_id = worker_id
        self.interval = interval
        self._latest: dict[int, ProgressUpdate] = {}
        self._task: asyncio.Task[None] | None = None

    def report(self, update: ProgressUpdate) -> None:
        """Thread-safe: sync jobs report from their own threads (dict writes are atomic)."""
        self._latest[update.id] = update

    async def run_once(self) -> int:
        if not self._latest:
            return 0
        batch, self._latest = self._latest, {}
        try:
            await self.store.job_progress_update(self.worker_id, list(batch.values()))
        except StorageError as exc:
            log.warning("progress write failed (%s); keeping the latest values", exc)
            for job_id, update in batch.items():
                self._latest.setdefault(job_id, update)
            return 0
        return len(batch)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="medley-progress")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.run_once()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
