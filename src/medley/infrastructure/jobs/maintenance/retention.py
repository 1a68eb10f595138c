"""Prune old finished jobs so the table stays the size of the live work, not of history."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.runtime.service import BaseService
from medley.infrastructure.jobs.storage.port import JobStore

log = logging.getLogger("medley.maintenance")

RETENTION_INTERVAL_DEFAULT = 300.0


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    succeeded_seconds: float = 86400.0
    """Age after which succeeded jobs are deleted; 0 disables."""
    failed_seconds: float = 30 * 86400.0
    """Age after which failed and cancelled jobs are deleted; 0 disables."""

    def __post_init__(self) -> None:
        if self.succeeded_seconds < 0 or self.failed_seconds < 0:
            raise ValueError("retention ages must not be negative")


class JobRetention(BaseService):
    name = "retention"

    def __init__(self, store: JobStore, config: RetentionConfig, *, interval: float) -> None:
        super().__init__(interval)
        self.store = store
        self.config = config

    async def run_once(self) -> int:
        now = datetime.now(UTC)
        pruned = 0
        plan = [
            (JobState.SUCCEEDED, self.config.succeeded_seconds),
            (JobState.FAILED, self.config.failed_seconds),
            (JobState.CANCELLED, self.config.failed_seconds),
        ]
        for state, age in plan:
            if age > 0:
                pruned += await self.store.job_prune(state, now - timedelta(seconds=age))
        if pruned:
            log.info("retention pruned %d finished jobs", pruned)
        return pruned
