"""`/api/servers`: worker processes with their heartbeat, CPU, memory and running jobs."""

from __future__ import annotations

from fastapi import APIRouter

from medley.web.api.schemas import ERROR_RESPONSES, ServerBody
from medley.web.dependencies import MonitorDep, Viewer

router = APIRouter(prefix="/api", tags=["monitoring"], responses=ERROR_RESPONSES)


@router.get("/servers", response_model=list[ServerBody])
async def servers(monitor: MonitorDep, _: Viewer) -> list[ServerBody]:
    """Registered workers; `alive` is false once a heartbeat is older than the lease."""
    return [
        ServerBody(
            id=s.row.id,
            hostname=s.row.hostname,
            pid=s.row.pid,
            queues=s.row.queues,
            concurrency=s.row.concurrency,
            running=s.row.running,
            cpu_percent=s.row.cpu_percent,
            rss_bytes=s.row.rss_bytes,
            started_at=s.row.started_at,
            heartbeat_at=s.row.heartbeat_at,
            heartbeat_age_seconds=s.heartbeat_age_seconds,
            alive=s.alive,
        )
        for s in await monitor.servers()
    ]
