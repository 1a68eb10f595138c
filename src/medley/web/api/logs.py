"""`GET /api/jobs/{id}/logs`: a job's stored log lines (from `ctx.log`, and optionally
every record logged while it ran), oldest first, with the count of older lines dropped to
stay within the bounds. Poll with `after=<next_after>` to follow a running job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from medley.application.errors import JobNotFoundError
from medley.application.models.observability import JobLogs
from medley.web.api.schemas import ERROR_RESPONSES, ErrorBody
from medley.web.dependencies import ServiceDep, Viewer

MAX_ID = 2**63 - 1

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=ERROR_RESPONSES)


@router.get("/{job_id}/logs", response_model=JobLogs, responses={404: {"model": ErrorBody}})
async def job_logs(
    job_id: int,
    service: ServiceDep,
    _: Viewer,
    after: Annotated[int, Query(ge=0, description="Only lines numbered above this")] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> JobLogs:
    if not 0 < job_id <= MAX_ID:  # beyond bigint cannot exist: 404, not a driver overflow
        raise JobNotFoundError(job_id)
    return await service.job_logs(job_id, after=after, limit=limit)
