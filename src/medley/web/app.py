"""The composition root (the Program.cs of our application's docs): builds the store,
service, read models, auth and routers from `Settings`, and owns their lifetime.

`create_app(settings)` is what `medley serve` runs; `mount_medley(host, ...)` adds the API
and the dashboard to a host FastAPI/Starlette application in one call.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import secrets
import sys
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.types import ASGIApp

from medley.config import Settings
from medley.infrastructure.jobs.limits import limit
from medley.infrastructure.jobs.registry import JobRegistry
from medley.infrastructure.jobs.runtime.server import WorkerServer
from medley.infrastructure.jobs.storage.factory import is_sqlite
from medley.infrastructure.services.background_job_service import JobService
from medley.infrastructure.services.connect import connect_async
from medley.web._headers import SecurityHeadersMiddleware
from medley.web.api import batches, events, jobs, limits, queues, recurring, servers
from medley.web.auth.session import SessionSigner
from medley.web.auth.tokens import TokenAuthority
from medley.web.auth.users import UserDirectory
from medley.web.dashboard import routes as dashboard
from medley.web.dependencies import Authorize
from medley.web.errors import install_error_handlers
from medley.web.events import JobEventHub
from medley.web.monitoring import Monitor

log = logging.getLogger("medley.web")

OBSERVABILITY_ROUTERS = ("medley.web.api.health", "medley.web.api.metrics", "medley.web.api.logs")
"""Routers of the observability layer, included when present."""


def create_app(
    settings: Settings | None = None,
    *,
    service: JobService | None = None,
    registry: JobRegistry | None = None,
    with_worker: bool | None = None,
    authorize: Authorize | None = None,
    api_authorize: Authorize | None = None,
) -> FastAPI:
    """The Medley web application.

    Args:
        settings: Configuration; read from `MEDLEY_*` when omitted.
        service: An existing service to serve (the caller opens and closes it); by
            default one is connected to `settings.database_url` for the app's lifetime.
        registry: Where a worker finds jobs (default: the global registry).
        with_worker: Run a worker in this process (default `settings.with_worker`, which
            defaults to yes on SQLite).
        authorize: The host's own dashboard check, replacing the login form and the
            loopback rule: returns the caller's `Principal`, or None to refuse.
        api_authorize: The same for the REST API, replacing bearer tokens.
    """
    settings = settings or Settings()
    run_worker = with_worker if with_worker is not None else settings.with_worker
    if run_worker is None:
        run_worker = is_sqlite(settings.database_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _running(app, settings, service, registry, run_worker):
            yield

    app = FastAPI(
        title="Medley",
        summary="Durable background jobs: REST API and live event stream",
        version="1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.authorize = authorize
    app.state.api_authorize = api_authorize
    secret = settings.secret_key or secrets.token_urlsafe(32)
    app.state.sessions = SessionSigner(secret, settings.session_seconds)
    install_error_handlers(app)
    routers = (jobs, events, queues, servers, recurring, batches, limits)
    for router in (module.router for module in routers):
        app.include_router(router)
    dashboard.install(app)
    _include_observability(app)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


@contextlib.asynccontextmanager
async def _running(
    app: FastAPI,
    settings: Settings,
    given: JobService | None,
    registry: JobRegistry | None,
    run_worker: bool,
) -> AsyncIterator[None]:
    """Open the pool (unless the caller owns the service), start the event hub and the
    optional worker; on the way out stop them in reverse and close the pool."""
    service = given or await connect_async(
        settings.database_url,
        registry=registry,
        auto_migrate=settings.auto_migrate,
        max_payload_bytes=settings.max_payload_bytes,
    )
    if given is not None:
        await given.open()
    app.state.service = service
    app.state.monitor = Monitor(service.store, lease_seconds=settings.lease_seconds)
    app.state.tokens = TokenAuthority(service.store)
    app.state.users = UserDirectory(service.store)
    hub = JobEventHub(service)
    app.state.events = hub
    worker: WorkerServer | None = None
    try:
        await hub.start()
        if run_worker:
            worker = await _start_worker(service, settings, registry)
        app.state.worker = worker
        yield
    finally:
        if worker is not None:
            await worker.stop()
        await hub.close()
        if given is None:
            await service.close()


async def _start_worker(
    service: JobService, settings: Settings, registry: JobRegistry | None
) -> WorkerServer:
    for name, spec in settings.limit_map().items():  # MEDLEY_LIMITS, as `medley worker`
        limit(name, **spec.kwargs())
    if "medley.infrastructure.ai.jobs" in sys.modules:  # the AI jobs use this service and db
        from medley.infrastructure.ai.runtime import configure_for_worker

        configure_for_worker(settings.database_url, service)
    worker = WorkerServer(service.store, registry or service.registry, settings.worker_config())
    service.on_enqueued.append(worker.wake)
    service.on_cancel_requested.append(worker.producer.request_cancel)
    await worker.start()
    return worker


def _include_observability(app: FastAPI) -> None:
    """Health and metrics routers and the request-id middleware, when that layer is
    installed; the app works without them."""
    for name in OBSERVABILITY_ROUTERS:
        module = _optional(name)
        if module is not None and hasattr(module, "router"):
            app.include_router(module.router)
    module = _optional("medley.web.request_id")
    middleware = getattr(module, "RequestIdMiddleware", None) if module else None
    if middleware is not None:
        app.add_middleware(middleware)


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def mount_medley(
    host: Starlette,
    settings: Settings | None = None,
    *,
    path: str = "/medley",
    **options: Any,
) -> FastAPI:
    """Mount the API and dashboard under `path` of `host` (`/medley/api/...`,
    `/medley/hangfire`), and run Medley's startup and shutdown inside the host's own
    lifespan (Starlette does not run the lifespan of a mounted app). `options` are those
    of `create_app` (`service`, `authorize`, ...). Returns the mounted app."""
    medley_app = create_app(settings, **options)
    host.mount(path, medley_app)
    inner = host.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: ASGIApp) -> AsyncIterator[Any]:
        async with medley_app.router.lifespan_context(medley_app), inner(app) as state:
            yield state

    host.router.lifespan_context = lifespan
    return medley_app
