"""`/api/recurring`: recurring jobs (declared in code or with `medley recurring`), listed
with their schedule and last run, and triggered by hand. Changes go through the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from medley.application.models.jobs import EnqueueResult
from medley.application.models.workflows import RecurringInfo
from medley.web.api.schemas import ERROR_RESPONSES, ErrorBody
from medley.web.dependencies import Admin, ServiceDep, Viewer

router = APIRouter(prefix="/api/recurring", tags=["recurring"], responses=ERROR_RESPONSES)

RecurringName = Annotated[str, Path(min_length=1, max_length=200)]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorBody}}


@router.get("", response_model=list[RecurringInfo])
async def list_recurring(service: ServiceDep, _: Viewer) -> list[RecurringInfo]:
    """Every recurring job: schedule, next tick, last run and its state, paused flag."""
    return await service.recurring_list()


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
