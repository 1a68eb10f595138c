"""Health checks over HTTP: /health/live answers while the process does; /health/ready
flips to 503, naming the failing check and its figure, when its condition fails."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import medley
from medley.config import Settings
from medley.infrastructure.services.background_job_service import JobService
from medley.web.api import health as health_api
from tests.integration import observability_jobs as jobs
from tests.support.backends import Backend
from tests.support.http import serve
from tests.support.jobs import insert_job, utcnow
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration


def health_app(service: JobService, **settings: Any) -> FastAPI:
    values: dict[str, Any] = {
        "lease_seconds": 5.0,
        "heartbeat_seconds": 1.0,
        "health_timeout_seconds": 2.0,
        "health_max_queue_age_seconds": 60.0,
        "health_max_dead_letter_growth": 2,
    }
    values.update(settings)
    app = FastAPI()
    app.state.service = service
    app.state.settings = Settings(**values)
    app.include_router(health_api.router)
    return app


async def ready(app: FastAPI) -> tuple[int, dict[str, dict[str, Any]]]:
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/health/ready")
    body = response.json()
    assert body["status"] == ("pass" if response.status_code == 200 else "fail")
    return response.status_code, {check["name"]: check for check in body["checks"]}


async def test_ready_passes_with_a_live_worker_and_fails_once_it_stopped(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    worker = await start_worker()
    code, checks = await ready(health_app(service))
    assert code == 200
    assert {name: c["status"] for name, c in checks.items()} == {
        "database": "pass",
        "migrations": "pass",
        "workers": "pass",
        "queue_lag": "pass",
        "dead_letter": "pass",
    }
    assert checks["workers"]["figure"] == 1

    await worker.stop()
    code, checks = await ready(health_app(service))

    assert code == 503
    assert checks["workers"]["status"] == "fail"
    assert checks["workers"]["figure"] == 0
    assert checks["database"]["status"] == "pass"


async def test_ready_ignores_workers_when_none_are_expected(service: medley.JobService) -> None:
    code, checks = await ready(health_app(service, health_expect_workers=False))

    assert code == 200
    assert checks["workers"]["status"] == "skip"


async def test_ready_fails_when_a_runnable_job_has_waited_too_long(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()
    await insert_job(service.store, queue="idle", run_at=utcnow() - timedelta(minutes=5))

    code, checks = await ready(health_app(service))

    assert code == 503
    assert checks["queue_lag"]["status"] == "fail"
    assert 290 < checks["queue_lag"]["figure"] < 400
    assert checks["queue_lag"]["limit"] == 60
    assert "idle" in checks["queue_lag"]["message"]


async def test_ready_fails_when_the_dead_letter_queue_grows(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker()
    for job_id in [await service.enqueue(jobs.fails) for _ in range(3)]:
        await service.wait(job_id, timeout=10)

    code, checks = await ready(health_app(service))

    assert code == 503
    assert checks["dead_letter"]["status"] == "fail"
    assert checks["dead_letter"]["figure"] == 3
    assert checks["workers"]["status"] == "pass"


async def test_ready_fails_when_the_database_is_unreachable(backend: Backend) -> None:
    dead = JobService(backend.unreachable_store(), owns_store=False)
    app = health_app(dead, health_timeout_seconds=1.0)

    started = time.monotonic()
    code, checks = await ready(app)

    assert time.monotonic() - started < 5
    assert code == 503
    assert checks["database"]["status"] == "fail"
    assert checks["database"]["message"]
    assert {checks[name]["status"] for name in ("migrations", "workers", "queue_lag")} == {"skip"}


async def test_ready_fails_when_migrations_are_missing(backend: Backend) -> None:
    empty = JobService(await backend.open_empty_store(), owns_store=False)

    code, checks = await ready(health_app(empty))

    assert code == 503
    assert checks["database"]["status"] == "pass"
    assert checks["migrations"]["status"] == "fail"
    assert "medley migrate" in checks["migrations"]["message"]


async def test_live_passes_even_when_the_database_is_gone(backend: Backend) -> None:
    app = health_app(JobService(backend.unreachable_store(), owns_store=False))

    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json()["status"] == "pass"
