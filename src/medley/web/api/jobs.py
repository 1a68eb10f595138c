"""`/api/jobs`: enqueue, read, list, cancel, retry, delete. Every action goes through the
`JobService`, which applies the state machine; this module only translates HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import ValidationError

from medley.application.errors import InvalidArgumentsError, JobNotFoundError
from medley.application.models.jobs import (
    EnqueueRequest,
    JobFilter,
    JobInfo,
    JobOptions,
    JobPage,
    JobState,
)
from medley.web.api.schemas import ERROR_RESPONSES, EnqueueBody, EnqueueResponse, ErrorBody
from medley.web.dependencies import Admin, ServiceDep, Viewer

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=ERROR_RESPONSES)

NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorBody}}
CONFLICT: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody},
    409: {"model": ErrorBody},
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EnqueueResponse,
    responses={
        200: {"model": EnqueueResponse, "description": "A live job held the unique key"},
        422: {"model": ErrorBody, "description": "Unknown job or invalid arguments"},
    },
)
async def enqueue(
    body: EnqueueBody, service: ServiceDep, _: Admin, response: Response
) -> EnqueueResponse:
    """Enqueue a registered job. An unknown job name is a 422 that names it."""
    try:
        options = JobOptions(**body.options())
    except ValidationError as exc:
        raise InvalidArgumentsError(f"invalid options: {exc.errors()[0]['msg']}") from exc
    request = EnqueueRequest(
        job=body.job, args=tuple(body.args), kwargs=body.kwargs, options=options
    )
    result = await service.submit(request)
    if result.existing:
        response.status_code = status.HTTP_200_OK
    return EnqueueResponse(id=result.id, state=result.state, existing=result.existing)


@router.get("", response_model=JobPage)
async def list_jobs(
    service: ServiceDep,
    _: Viewer,
    state: JobState | None = None,
    queue: Annotated[str | None, Query(max_length=200)] = None,
    job: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
) -> JobPage:
    """Jobs newest first; pass `next_cursor` back as `cursor` for the next page."""
    return await service.list(
        JobFilter(state=state, queue=queue, job=job), limit=limit, cursor=cursor
    )


@router.get("/{job_id}", response_model=JobInfo, responses=NOT_FOUND)
async def get_job(job_id: int, service: ServiceDep, _: Viewer) -> JobInfo:
    """The full job: progress, result, error with traceback, attempt, history."""
    return await service.get(_checked(job_id))


@router.post("/{job_id}/cancel", response_model=JobInfo, responses=CONFLICT)
async def cancel_job(job_id: int, service: ServiceDep, _: Admin) -> JobInfo:
    """Cancel at once, or ask the worker of a processing job to stop (409 if final)."""
    return await service.cancel(_checked(job_id))


@router.post("/{job_id}/retry", response_model=JobInfo, responses=CONFLICT)
async def retry_job(job_id: int, service: ServiceDep, _: Admin) -> JobInfo:
    """Enqueue a failed or cancelled job again with a fresh attempt budget."""
    return await service.retry(_checked(job_id))


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT)
async def delete_job(job_id: int, service: ServiceDep, _: Admin) -> Response:
    """Delete a job that is not processing, with its history."""
    await service.delete(_checked(job_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


MAX_ID = 2**63 - 1


def _checked(job_id: int) -> int:
    """Ids beyond the database's bigint cannot exist: a 404, not a driver overflow."""
    if not 0 < job_id <= MAX_ID:
        raise JobNotFoundError(job_id)
    return job_id
