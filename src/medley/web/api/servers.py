"""`/api/servers`: worker processes with their heartbeat, CPU, memory, running jobs, slots
per queue and resource throttling."""

from __future__ import annotations

from fastapi import APIRouter

from medley.infrastructure.services._servers import server_info
from medley.web.api.schemas import ERROR_RESPONSES, ServerBody
from medley.web.dependencies import MonitorDep, Viewer

router = APIRouter(prefix="/api", tags=["monitoring"], responses=ERROR_RESPONSES)


@router.get("/servers", response_model=list[ServerBody])
async def servers(monitor: MonitorDep, _: Viewer) -> list[ServerBody]:
    """Registered workers; `alive` is false once a heartbeat is older than the lease."""
    return [
        ServerBody(
            **server_info(s.row).model_dump(),
            heartbeat_age_seconds=s.heartbeat_age_seconds,
            alive=s.alive,
        )
        for s in await monitor.servers()
    ]
