"""`/api/stats` and `/api/queues` (with pause and resume), from the monitoring model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from medley.web.api.schemas import ERROR_RESPONSES, MinuteBody, QueueBody, StatsBody
from medley.web.dependencies import Admin, MonitorDep, ServiceDep, Viewer
from medley.web.monitoring import QueueView

router = APIRouter(prefix="/api", tags=["monitoring"], responses=ERROR_RESPONSES)

QueueName = Annotated[str, Path(min_length=1, max_length=200)]


def queue_body(view: QueueView) -> QueueBody:
    return QueueBody(
        name=view.name,
        paused=view.paused,
        counts=view.counts,
        depth=view.depth,
        oldest_due_age_seconds=view.oldest_due_age_seconds,
    )


@router.get("/stats", response_model=StatsBody)
async def stats(monitor: MonitorDep, _: Viewer) -> StatsBody:
    """Jobs per state, queues, live workers and the last hour's throughput."""
    overview = await monitor.overview()
    return StatsBody(
        counts=overview.counts,
        queues=len(overview.queues),
        servers_alive=overview.servers_alive,
        throughput=[
            MinuteBody(minute=m.minute, succeeded=m.succeeded, failed=m.failed)
            for m in overview.throughput
        ],
    )


@router.get("/queues", response_model=list[QueueBody])
async def queues(monitor: MonitorDep, _: Viewer) -> list[QueueBody]:
    """Every known queue: counts per state, depth, oldest due job's age, paused flag."""
    return [queue_body(q) for q in await monitor.queues()]


@router.post("/queues/{name}/pause", response_model=QueueBody)
async def pause_queue(
    name: QueueName, service: ServiceDep, monitor: MonitorDep, _: Admin
) -> QueueBody:
    """Workers stop taking jobs from the queue (running ones finish). Idempotent."""
    await service.store.queue_set_paused(name, True)
    return await _queue(monitor, name)


@router.post("/queues/{name}/resume", response_model=QueueBody)
async def resume_queue(
    name: QueueName, service: ServiceDep, monitor: MonitorDep, _: Admin
) -> QueueBody:
    """Workers take jobs from the queue again. Idempotent."""
    await service.store.queue_set_paused(name, False)
    return await _queue(monitor, name)


async def _queue(monitor: MonitorDep, name: str) -> QueueBody:
    views = [q for q in await monitor.queues() if q.name == name]
    return queue_body(views[0])
