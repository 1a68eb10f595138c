"""`GET /api/jobs/{id}/events`: Server-Sent Events of a job's state and progress until it
reaches a final state. The first event is the job as it is now (skipped if the client's
`Last-Event-ID` says it has exactly that already), so a late or reconnecting subscriber
never misses where the job stands."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from medley.application.models.jobs import JobInfo
from medley.web.api.schemas import ERROR_RESPONSES, ErrorBody
from medley.web.dependencies import HubDep, Viewer
from medley.web.events import JobEventHub, version_of

router = APIRouter(prefix="/api/jobs", tags=["events"], responses=ERROR_RESPONSES)

HEARTBEAT_SECONDS = 15.0
"""A comment line this often keeps proxies from closing an idle stream."""
RETRY_MILLISECONDS = 2000

SSE_RESPONSE: dict[int | str, dict[str, object]] = {
    200: {
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
        "description": "`event: state|progress|end`, `data:` the job as JSON, `id:` its version",
    },
    404: {"model": ErrorBody},
}


@router.get("/{job_id}/events", response_class=StreamingResponse, responses=SSE_RESPONSE)
async def job_events(
    job_id: int,
    hub: HubDep,
    _: Viewer,
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
) -> StreamingResponse:
    """Follow one job live. Ends after the event that shows its final state."""
    stream = sse_stream(hub, job_id, last_event_id)
    first = await anext(stream)  # raises JobNotFoundError (404) before the response starts
    return StreamingResponse(
        prepend(first, stream),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def prepend(first: str, rest: AsyncGenerator[str, None]) -> AsyncIterator[str]:
    """`first`, then the rest of the stream; the stream is closed however this ends."""
    async with contextlib.aclosing(rest):
        yield first
        async for chunk in rest:
            yield chunk


def event_payload(info: JobInfo) -> dict[str, object]:
    """What a stream says about the job: enough to draw it without another request."""
    payload: dict[str, object] = {
        "id": info.id,
        "job": info.job,
        "state": info.state.value,
        "attempt": info.attempt,
        "max_attempts": info.max_attempts,
        "progress": info.progress.model_dump(mode="json"),
        "cancel_requested": info.cancel_requested,
        "error": info.error.model_dump(mode="json") if info.error else None,
    }
    if info.state.is_final:
        payload["result"] = info.result
        payload["finished_at"] = info.finished_at.isoformat() if info.finished_at else None
    return payload


def _event(kind: str, info: JobInfo) -> str:
    data = json.dumps(event_payload(info), separators=(",", ":"), default=str)
    return f"id: {version_of(info)}\nevent: {kind}\ndata: {data}\n\n"


async def sse_stream(
    hub: JobEventHub, job_id: int, last_event_id: str | None
) -> AsyncGenerator[str, None]:
    """The stream's text. Its first chunk is always sent (a `retry:` hint at least)."""
    async with contextlib.aclosing(hub.watch(job_id, heartbeat=HEARTBEAT_SECONDS)) as updates:
        info = await anext(updates)
        assert info is not None
        sent_version = last_event_id
        sent: JobInfo | None = None
        head = f"retry: {RETRY_MILLISECONDS}\n\n"
        if version_of(info) != sent_version:
            head += _event("state", info)
            sent, sent_version = info, version_of(info)
        yield head
        if info.state.is_final:
            yield _end(info)
            return
        async for update in updates:
            if update is None:
                yield ": keep-alive\n\n"
                continue
            if version_of(update) == sent_version:
                continue
            kind = "progress" if sent is not None and _same_state(sent, update) else "state"
            yield _event(kind, update)
            sent, sent_version = update, version_of(update)
            if update.state.is_final:
                yield _end(update)
                return


def _same_state(a: JobInfo, b: JobInfo) -> bool:
    return (a.state, a.attempt, len(a.history), a.cancel_requested) == (
        b.state,
        b.attempt,
        len(b.history),
        b.cancel_requested,
    )


def _end(info: JobInfo) -> str:
    return f"event: end\ndata: {json.dumps({'id': info.id, 'state': info.state.value})}\n\n"
