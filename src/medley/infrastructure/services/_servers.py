"""Worker processes on `JobService`: the heartbeats as the service reports them (CPU,
memory, running jobs, slots per queue, resource throttling)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from medley.application.models.servers import QueueSlots, ServerInfo
from medley.infrastructure.jobs.storage.port import JobStore, ServerRow


class ServerMethods:
    """`server_list`."""

    store: JobStore

    if TYPE_CHECKING:

        async def open(self) -> object: ...

    async def server_list(self) -> list[ServerInfo]:
        """Every registered worker process, as of its last heartbeat (a dead one stays
        listed until it is pruned: compare `heartbeat_at` with the lease)."""
        await self.open()
        return [server_info(row) for row in await self.store.server_list()]


def server_info(row: ServerRow) -> ServerInfo:
    return ServerInfo(
        id=row.id,
        hostname=row.hostname,
        pid=row.pid,
        queues=row.queues,
        concurrency=row.concurrency,
        running=row.running,
        cpu_percent=row.cpu_percent,
        rss_bytes=row.rss_bytes,
        slots={q: QueueSlots(busy=s["busy"], max=s["max"]) for q, s in row.slots.items()},
        throttled=row.throttled,
        throttle_reason=row.throttle_reason,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
    )
