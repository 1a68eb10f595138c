"""`/api/recurring`: recurring jobs (declared in code or with `medley recurring`), listed
with their schedule and last run, and triggered by hand. Changes go through the service."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from medley.application.models.jobs import EnqueueResult, JobOptions
from medley.application.models.workflows import Misfire, RecurringInfo, RecurringJob
from medley.web.api.schemas import ERROR_RESPONSES, ErrorBody
from medley.web.dependencies import Admin, ServiceDep, Viewer

router = APIRouter(prefix="/api/recurring", tags=["recurring"], responses=ERROR_RESPONSES)

RecurringName = Annotated[str, Path(min_length=1, max_length=200)]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorBody}}


@router.get("", response_model=list[RecurringInfo])
async def list_recurring(service: ServiceDep, _: Viewer) -> list[RecurringInfo]:
    """Every recurring job: schedule, next tick, last run and its state, paused flag."""
    return await service.recurring_list()


class RecurringBody(BaseModel):
    """`PUT /api/recurring/{name}`: declare or redefine a recurring job."""

    model_config = ConfigDict(extra="forbid")

    job: str = Field(min_length=1, max_length=500, description="Registered job name")
    cron: str = Field(min_length=1, max_length=200, description="5 or 6 fields, or @hourly…")
    timezone: str = Field(default="UTC", min_length=1, max_length=100)
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    queue: str | None = Field(default=None, min_length=1, max_length=200)
    priority: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    max_attempts: int | None = Field(default=None, ge=1, le=1000)
    timeout_seconds: float | None = Field(default=None, gt=0, le=365 * 86400)
    misfire: Misfire = Misfire.ONCE


@router.put("/{name}", response_model=RecurringInfo)
async def put_recurring(
    name: RecurringName, body: RecurringBody, service: ServiceDep, _: Admin
) -> RecurringInfo:
    """Create or redefine the recurring job `name` (422 for an unknown job or a bad cron
    expression or time zone)."""
    timeout = None if body.timeout_seconds is None else timedelta(seconds=body.timeout_seconds)
    spec = RecurringJob(
        name=name,
        job=body.job,
        cron=body.cron,
        timezone=body.timezone,
        args=tuple(body.args),
        kwargs=body.kwargs,
        options=JobOptions(
            queue=body.queue,
            priority=body.priority,
            max_attempts=body.max_attempts,
            timeout=timeout,
        ),
        misfire=body.misfire,
    )
    return await service.recurring_add(spec)


@router.post("/{name}/trigger", response_model=EnqueueResult, responses=NOT_FOUND)
async def trigger_recurring(name: RecurringName, service: ServiceDep, _: Admin) -> EnqueueResult:
    """Enqueue one run now, outside the schedule (the schedule is unchanged)."""
    return await service.recurring_trigger(name)


@router.post("/{name}/pause", response_model=RecurringInfo, responses=NOT_FOUND)
async def pause_recurring(name: RecurringName, service: ServiceDep, _: Admin) -> RecurringInfo:
    """Stop firing until resumed."""
    return await service.recurring_pause(name)


@router.post("/{name}/resume", response_model=RecurringInfo, responses=NOT_FOUND)
async def resume_recurring(name: RecurringName, service: ServiceDep, _: Admin) -> RecurringInfo:
    """Fire again from the next tick."""
    return await service.recurring_resume(name)


@router.delete("/{name}", status_code=204, responses=NOT_FOUND)
async def remove_recurring(name: RecurringName, service: ServiceDep, _: Admin) -> None:
    """Remove the recurring job (jobs it already fired are kept)."""
    await service.recurring_remove(name)
