"""`GET /health/live` (the process answers) and `GET /health/ready` (the deployment can
work: database, migrations, workers, queue lag, dead-letter growth) -> 200 or 503 with a
JSON body naming each check, its status and its figure. Unauthenticated, for probes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from medley.application.models.observability import HealthReport
from medley.config import Settings
from medley.infrastructure.jobs.storage.port import JobStore
from medley.infrastructure.observability.health import HealthConfig, check_readiness, liveness

router = APIRouter(tags=["health"])

REPORT: dict[int | str, dict[str, Any]] = {
    503: {"model": HealthReport, "description": "A check failed"}
}


def get_store(request: Request) -> JobStore:
    """The store of the service the app factory put at `app.state.service`."""
    store: JobStore = request.app.state.service.store
    return store


def get_health_config(request: Request) -> HealthConfig:
    """The thresholds, from the Settings at `app.state.settings`."""
    settings: Settings = request.app.state.settings
    return settings.health_config()


def _response(report: HealthReport) -> JSONResponse:
    return JSONResponse(report.model_dump(mode="json"), status_code=200 if report.ok else 503)


@router.get("/health/live", response_model=HealthReport)
async def live() -> JSONResponse:
    return _response(liveness())


@router.get("/health/ready", response_model=HealthReport, responses=REPORT)
async def ready(
    store: Annotated[JobStore, Depends(get_store)],
    config: Annotated[HealthConfig, Depends(get_health_config)],
) -> JSONResponse:
    return _response(await check_readiness(store, config))
