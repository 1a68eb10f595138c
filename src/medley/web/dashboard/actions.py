"""The dashboard's actions: POST forms (CSRF-checked, admin only) that call the
`JobService` (the state machine decides) and redirect back with a fixed notice code."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from medley.application.errors import MedleyError
from medley.application.models.jobs import BulkSelection, JobState
from medley.web.auth.principal import Principal
from medley.web.dashboard.auth import acting_principal
from medley.web.dashboard.render import base_url
from medley.web.dependencies import ServiceDep

router = APIRouter(include_in_schema=False)
Actor = Annotated[Principal, Depends(acting_principal)]
SELECTED_MAX = 500


def _back(request: Request, path: str, **notice: str | int) -> Response:
    query = f"?{urlencode(notice)}" if notice else ""
    return RedirectResponse(f"{base_url(request)}{path}{query}", status_code=303)


@router.post("/jobs/{job_id:int}/{action}")
async def job_action(
    request: Request, job_id: int, action: str, _: Actor, service: ServiceDep
) -> Response:
    """cancel, retry or delete one job."""
    try:
        if action == "cancel":
            await service.cancel(job_id)
        elif action == "retry":
            await service.retry(job_id)
        elif action == "delete":
            await service.delete(job_id)
            return _back(request, "/jobs", done="deleted", n=1)
        else:
            return Response(status_code=404)
    except MedleyError as exc:
        return _back(request, f"/jobs/{job_id}", error=type(exc).__name__)
    return _back(
        request, f"/jobs/{job_id}", done=f"{action}_requested" if action == "cancel" else action
    )


@router.post("/jobs/bulk/{action}")
async def bulk_selected(
    request: Request,
    action: str,
    _: Actor,
    service: ServiceDep,
    ids: Annotated[list[int], Form(max_length=SELECTED_MAX)],
    state: Annotated[str, Form(max_length=20)] = "failed",
) -> Response:
    """retry or delete the jobs ticked on a list page."""
    if action not in ("retry", "delete"):
        return Response(status_code=404)
    done = 0
    for job_id in ids:
        try:
            await (service.retry(job_id) if action == "retry" else service.delete(job_id))
            done += 1
        except MedleyError:
            continue  # changed meanwhile (retried, deleted, picked up): skip it
    return _back(request, "/jobs", state=state, done=action, n=done)


@router.post("/jobs/all/{action}")
async def bulk_matching(
    request: Request,
    action: str,
    _: Actor,
    service: ServiceDep,
    state: Annotated[JobState, Form()] = JobState.FAILED,
    queue: Annotated[str, Form(max_length=200)] = "",
    job: Annotated[str, Form(max_length=500)] = "",
    error_type: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """retry or delete every final job matching the filter (the dead-letter queue's
    "all"): batched by the service, never one huge transaction."""
    if action not in ("retry", "delete"):
        return Response(status_code=404)
    try:
        selection = BulkSelection(
            states=(state,), queue=queue or None, job=job or None, error_type=error_type or None
        )
    except ValidationError:
        return _back(request, "/jobs", state=state.value, error="NotFinalState")
    count = await (
        service.retry_many(selection) if action == "retry" else service.delete_many(selection)
    )
    return _back(request, "/jobs", state=state.value, done=action, n=count)


@router.post("/queues/{name}/{action}")
async def queue_action(
    request: Request, name: str, action: str, _: Actor, service: ServiceDep
) -> Response:
    """pause or resume a queue."""
    if action not in ("pause", "resume"):
        return Response(status_code=404)
    await service.store.queue_set_paused(name, action == "pause")
    return _back(request, "/queues", done=f"{action}d")


@router.post("/recurring/{name}/{action}")
async def recurring_action(
    request: Request, name: str, action: str, _: Actor, service: ServiceDep
) -> Response:
    """trigger, pause, resume or remove a recurring job."""
    methods = {
        "trigger": service.recurring_trigger,
        "pause": service.recurring_pause,
        "resume": service.recurring_resume,
        "remove": service.recurring_remove,
    }
    if action not in methods:
        return Response(status_code=404)
    try:
        await methods[action](name)
    except MedleyError as exc:
        return _back(request, "/recurring", error=type(exc).__name__)
    return _back(request, "/recurring", done=action)
