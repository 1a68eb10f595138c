"""`GET /metrics`: Prometheus text format. This process's event counters and histograms
(or, under prometheus-client's multiprocess directory, the sum of every process), plus
the cluster gauges read at scrape time from three cheap queries. Unauthenticated, as
Prometheus scrapes it; put it behind the network's own controls if job names are secret.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from medley.config import Settings
from medley.infrastructure.jobs.storage.port import JobStore
from medley.infrastructure.observability.metrics import (
    CONTENT_TYPE,
    DEFAULT_METRICS,
    process_collector,
    render,
)
from medley.web.api.health import get_store

router = APIRouter(tags=["metrics"])


def get_lease_seconds(request: Request) -> float:
    """How long a silent worker still counts as alive, from `app.state.settings`."""
    settings: Settings = request.app.state.settings
    return settings.lease_seconds


@router.get("/metrics", response_class=Response)
async def metrics(
    store: Annotated[JobStore, Depends(get_store)],
    lease_seconds: Annotated[float, Depends(get_lease_seconds)],
) -> Response:
    events = process_collector(DEFAULT_METRICS)
    body = await render(store, events, lease_seconds=lease_seconds)
    return Response(body, media_type=CONTENT_TYPE)
