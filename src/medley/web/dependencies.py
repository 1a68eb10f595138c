"""`Depends()` providers: the service and read models from `app.state`, and the API's
authentication (bearer tokens) and authorization (viewer reads, admin acts)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from medley.config import Settings
from medley.infrastructure.services.background_job_service import JobService
from medley.web.auth.principal import Principal
from medley.web.auth.tokens import TokenAuthority
from medley.web.errors import forbidden, unauthenticated
from medley.web.events import JobEventHub
from medley.web.monitoring import Monitor

Authorize = Callable[[Request], "Awaitable[Principal | None] | Principal | None"]
"""A host application's own check: the caller's principal, or None to refuse."""

_bearer = HTTPBearer(auto_error=False, description="`medley tokens create --role viewer|admin`")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


def get_monitor(request: Request) -> Monitor:
    monitor: Monitor = request.app.state.monitor
    return monitor


def get_hub(request: Request) -> JobEventHub:
    hub: JobEventHub = request.app.state.events
    return hub


async def call_authorize(authorize: Authorize, request: Request) -> Principal | None:
    outcome = authorize(request)
    if inspect.isawaitable(outcome):
        return await outcome
    return outcome


async def api_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of an API endpoint. 401 without a valid, unrevoked bearer token."""
    custom: Authorize | None = request.app.state.api_authorize
    if custom is not None:
        principal = await call_authorize(custom, request)
        if principal is None:
            raise forbidden("the host application's authorization refused this request")
        return principal
    if credentials is None:
        raise unauthenticated(
            "missing bearer token: send `Authorization: Bearer <token>` "
            "(create one with `medley tokens create --role viewer`)"
        )
    tokens: TokenAuthority = request.app.state.tokens
    principal = await tokens.authenticate(credentials.credentials)
    if principal is None:
        raise unauthenticated("invalid or revoked bearer token")
    return principal


async def require_viewer(
    principal: Annotated[Principal, Depends(api_principal)],
) -> Principal:
    """Any authenticated caller may read."""
    return principal


async def require_admin(
    principal: Annotated[Principal, Depends(api_principal)],
) -> Principal:
    """Only `admin` may act: cancel, retry, delete, enqueue, pause, trigger."""
    if not principal.can_act:
        raise forbidden(f"{principal.name} has role {principal.role.value}: this needs admin")
    return principal


ServiceDep = Annotated[JobService, Depends(get_service)]
MonitorDep = Annotated[Monitor, Depends(get_monitor)]
HubDep = Annotated[JobEventHub, Depends(get_hub)]
Viewer = Annotated[Principal, Depends(require_viewer)]
Admin = Annotated[Principal, Depends(require_admin)]
