"""`/api/recurring`: recurring jobs, when the engine's service provides them.

The recurring-jobs feature lives in the engine; this module only adapts whatever the
service exposes (`recurring_list()`, `recurring_trigger(name)`), and answers 501 with a
clear body when the running engine has no recurring jobs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from medley.web.api.schemas import ERROR_RESPONSES, ErrorBody
from medley.web.dependencies import Admin, ServiceDep, Viewer
from medley.web.errors import WebError

router = APIRouter(prefix="/api/recurring", tags=["recurring"], responses=ERROR_RESPONSES)

RecurringName = Annotated[str, Path(min_length=1, max_length=200)]
NOT_AVAILABLE: dict[int | str, dict[str, Any]] = {501: {"model": ErrorBody}}


def recurring_method(service: object, name: str) -> Any:
    """The service's recurring method `name`, or a 501 if this engine has none."""
    method = getattr(service, name, None)
    if method is None:
        raise WebError(
            501, "not_implemented", "recurring jobs are not available in this engine version"
        )
    return method


def as_json(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


@router.get("", responses=NOT_AVAILABLE)
async def list_recurring(service: ServiceDep, _: Viewer) -> list[Any]:
    """Every recurring job: its schedule, next and last run, paused flag."""
    items = await recurring_method(service, "recurring_list")()
    return [as_json(item) for item in items]


@router.post("/{name}/trigger", responses={**NOT_AVAILABLE, 404: {"model": ErrorBody}})
async def trigger_recurring(name: RecurringName, service: ServiceDep, _: Admin) -> Any:
    """Enqueue one run of the recurring job now, outside its schedule."""
    return as_json(await recurring_method(service, "recurring_trigger")(name))
