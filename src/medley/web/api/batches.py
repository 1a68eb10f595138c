"""`/api/batches/{id}`: a batch's progress (done/failed/total), read once or streamed as
Server-Sent Events until every job in it is final."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from medley.application.errors import BatchNotFoundError
from medley.application.models.workflows import BatchInfo
from medley.web.api.events import SSE_RESPONSE, prepend
from medley.web.api.jobs import MAX_ID
from medley.web.api.schemas import ERROR_RESPONSES, ErrorBody
from medley.web.dependencies import ServiceDep, Viewer

router = APIRouter(prefix="/api/batches", tags=["batches"], responses=ERROR_RESPONSES)

WATCH_INTERVAL_SECONDS = 0.5


def _checked(batch_id: int) -> int:
    """Ids beyond the database's bigint cannot exist: a 404, not a driver overflow."""
    if not 0 < batch_id <= MAX_ID:
        raise BatchNotFoundError(batch_id)
    return batch_id


@router.get("/{batch_id}", response_model=BatchInfo, responses={404: {"model": ErrorBody}})
async def get_batch(batch_id: int, service: ServiceDep, _: Viewer) -> BatchInfo:
    """The batch's counters and progress; 404 if unknown."""
    return await service.get_batch(_checked(batch_id))


@router.get("/{batch_id}/events", response_class=StreamingResponse, responses=SSE_RESPONSE)
async def batch_events(batch_id: int, service: ServiceDep, _: Viewer) -> StreamingResponse:
    """Follow a batch live: `event: progress` on every change, `event: end` when finished."""
    await service.get_batch(_checked(batch_id))  # 404 before the stream starts

    async def stream() -> AsyncGenerator[str, None]:
        async for info in service.watch_batch(batch_id, interval=WATCH_INTERVAL_SECONDS):
            kind = "end" if info.is_finished else "progress"
            data = json.dumps(info.model_dump(mode="json"), separators=(",", ":"))
            yield f"event: {kind}\ndata: {data}\n\n"

    body = stream()
    first = await anext(body)
    return StreamingResponse(
        prepend(first, body),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
