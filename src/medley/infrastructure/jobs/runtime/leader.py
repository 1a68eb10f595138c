"""One leader among all workers runs maintenance, so a periodic task runs once per tick
however many servers are up. Leadership is a row with an expiry, renewed by the holder;
a crashed leader is replaced once its term runs out."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from medley.infrastructure.jobs.runtime.service import BaseService
from medley.infrastructure.jobs.storage.port import JobStore

log = logging.getLogger("medley.worker")

LEADER_NAME = "maintenance"
LEADER_INTERVAL_DEFAULT = 5.0


class LeaderElector(BaseService):
    """Tries to become or stay leader every `interval`; term = 3 intervals."""

    name = "leader"

    def __init__(
        self,
        store: JobStore,
        *,
        leader_id: str,
        interval: float,
        services: Sequence[BaseService],
    ) -> None:
        super().__init__(interval)
        self.store = store
        self.leader_id = leader_id
        self.services = list(services)
        self.is_leader = False

    async def run_once(self) -> bool:
        elected = await self.store.leader_attempt_elect(
            LEADER_NAME, self.leader_id, self.interval * 3
        )
        if elected and not self.is_leader:
            log.info("%s became the maintenance leader", self.leader_id)
            for service in self.services:
                service.start()
        elif not elected and self.is_leader:
            log.warning("%s lost the maintenance leadership", self.leader_id)
            await self._stop_services()
        self.is_leader = elected
        return elected

    async def _stop_services(self) -> None:
        for service in self.services:
            await service.stop()

    async def stop(self) -> None:
        await super().stop()
        await self._stop_services()
        if self.is_leader:
            self.is_leader = False
            try:
                await self.store.leader_resign(LEADER_NAME, self.leader_id)
            except Exception as exc:  # the term expires by itself
                log.warning("could not resign leadership: %s", exc)
