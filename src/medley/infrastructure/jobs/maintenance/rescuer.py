"""Give back the jobs of dead workers. At least once: a job held by a worker that stopped
heartbeating runs again (as a new attempt), or fails if it has no attempts left."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from medley.infrastructure.jobs.runtime.service import BaseService
from medley.infrastructure.jobs.storage.port import JobRescueParams, JobRow, JobStore

log = logging.getLogger("medley.maintenance")

RESCUER_INTERVAL_DEFAULT = 15.0


@dataclass(frozen=True, slots=True)
class RescueResult:
    rescued: int
    failed: int


class JobRescuer(BaseService):
    name = "rescuer"

    def __init__(
        self,
        store: JobStore,
        *,
        lease_seconds: float,
        interval: float,
        on_rescued: Callable[[list[JobRow]], None] | None = None,
    ) -> None:
        super().__init__(interval)
        self.store = store
        self.lease_seconds = lease_seconds
        self.on_rescued = on_rescued
        """Called with the rows rescued by a pass (for metrics)."""

    async def run_once(self) -> RescueResult:
        # No retry_at: a rescued job runs again at once and keeps its place in the queue.
        rows = await self.store.job_rescue(JobRescueParams(lease_seconds=self.lease_seconds))
        failed = sum(1 for r in rows if r.state.is_final)
        if rows and self.on_rescued is not None:
            self.on_rescued(rows)
        if rows:
            log.warning(
                "rescued %d jobs of dead workers (%d retried, %d failed for good)",
                len(rows),
                len(rows) - failed,
                failed,
            )
        await self.store.server_prune(self.lease_seconds * 10)
        return RescueResult(rescued=len(rows) - failed, failed=failed)
