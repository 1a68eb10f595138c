"""Batch state writes: outcomes of many jobs go to the database in one statement.

Checkpoint: a job is reported done only after its outcome is committed. Outcomes that
cannot be written (database down) stay buffered and are retried with backoff; the job's
lease is not given up meanwhile, because the worker keeps heartbeating.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from medley.application.errors import StorageError
from medley.infrastructure.jobs.storage.port import JobCompletion, JobStore
from medley.infrastructure.tasks import cancel_and_wait

log = logging.getLogger("medley.worker")

BATCH_MAX = 1000
RETRY_DELAY_MAX = 5.0


class BatchCompleter:
    """Collects completions and writes them in batches. `submit` never blocks."""

    def __init__(
        self,
        store: JobStore,
        worker_id: str,
        *,
        on_written: Callable[[list[JobCompletion], set[int]], None] | None = None,
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.on_written = on_written
        self._pending: list[JobCompletion] = []
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._in_flight_ids: set[int] = set()
        # Committed batches: tells a reader whether outcomes landed while it looked
        # elsewhere (burst mode's idle check).
        self.batches_written = 0

    def submit(self, completion: JobCompletion) -> None:
        self._pending.append(completion)
        self._idle.clear()
        self._ready.set()

    def pending_ids(self) -> set[int]:
        """Jobs whose outcome is known but not yet committed (still `processing` in the
        database)."""
        return {c.id for c in self._pending} | self._in_flight_ids

    @property
    def backlog(self) -> int:
        """Outcomes not yet committed, including a batch being written right now."""
        return len(self._pending) + self._in_flight

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="medley-completer")

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is written. False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self, timeout: float = 10.0) -> None:
        if not await self.flush(timeout):
            log.error("%d job outcomes could not be written before shutdown", self.backlog)
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def run_once(self) -> int:
        """Write one batch; returns how many outcomes were written (0 if none pending)."""
        batch, self._pending = self._pending[:BATCH_MAX], self._pending[BATCH_MAX:]
        if not batch:
            return 0
        self._in_flight = len(batch)
        self._in_flight_ids = {c.id for c in batch}
        try:
            written = set(await self.store.job_set_state_if_processing(self.worker_id, batch))
            self.batches_written += 1
        except StorageError:
            self._pending[:0] = batch  # keep order; retried by the loop
            raise
        finally:
            self._in_flight = 0
            self._in_flight_ids = set()
        for completion in batch:
            if completion.id not in written:
                # Fencing: the job was rescued, cancelled or deleted while we ran it.
                log.warning(
                    "outcome of job %s attempt %s rejected: the job is no longer held by "
                    "this worker",
                    completion.id,
                    completion.attempt,
                )
        if self.on_written is not None:
            self.on_written(batch, written)
        return len(batch)

    async def _run(self) -> None:
        delay = 0.05
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._pending:
                try:
                    await self.run_once()
                    delay = 0.05
                except StorageError as exc:
                    log.warning("writing job outcomes failed (%s); retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_DELAY_MAX)
            self._idle.set()
