"""`/api/limits`: named limits (concurrency caps, start rates, token budgets) with what is
in use now; an admin defines, changes and removes them for every worker at once. Changes
go through the service, which stores them as `runtime` definitions (kept over code)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from medley.application.errors import LimitNotFoundError
from medley.application.models.limits import LimitInfo
from medley.web.api.schemas import ERROR_RESPONSES, ErrorBody
from medley.web.dependencies import Admin, ServiceDep, Viewer

router = APIRouter(prefix="/api/limits", tags=["limits"], responses=ERROR_RESPONSES)

LimitName = Annotated[str, Path(min_length=1, max_length=200)]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorBody}}


@router.get("", response_model=list[LimitInfo])
async def list_limits(service: ServiceDep, _: Viewer) -> list[LimitInfo]:
    """Every limit: cap, rate, token budget and period, with the slots, starts and tokens
    in use now and any 429 block."""
    return await service.limit_list()


class LimitBody(BaseModel):
    """`PUT /api/limits/{name}`: the whole definition (a bound left out is unbounded)."""

    model_config = ConfigDict(extra="forbid")

    max_running: int | None = Field(default=None, ge=0, le=2**31 - 1)
    rate: int | None = Field(default=None, ge=1, le=2**31 - 1, description="Starts per period")
    tokens: int | None = Field(default=None, ge=1, le=2**62, description="Token budget per period")
    period_seconds: float = Field(default=60.0, gt=0, le=366 * 86400)


@router.put("/{name}", response_model=LimitInfo)
async def put_limit(name: LimitName, body: LimitBody, service: ServiceDep, _: Admin) -> LimitInfo:
    """Define or replace the limit `name` for every worker (applied at their next fetch)."""
    return await service.limit_set(
        name,
        body.max_running,
        rate=body.rate,
        tokens=body.tokens,
        period=body.period_seconds,
    )


@router.delete("/{name}", status_code=204, responses=NOT_FOUND)
async def remove_limit(name: LimitName, service: ServiceDep, _: Admin) -> None:
    """Forget the limit: its jobs run unlimited until it is defined again."""
    if not await service.limit_remove(name):
        raise LimitNotFoundError(name)
