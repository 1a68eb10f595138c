"""Who may see the dashboard, and the login form.

In order: the host application's own `authorize` callable if it gave one; else a valid
session cookie (login form, users in the database, argon2); else, while no user exists
at all, clients on the loopback interface only (as Hangfire does) with a note saying how
to add a user. Every POST carries the CSRF token; a viewer's POST is refused.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from medley.web.auth.principal import Principal, Role
from medley.web.auth.session import SESSION_COOKIE, SessionSigner
from medley.web.auth.users import UserDirectory
from medley.web.dashboard.render import base_url, cookie_secure, csrf_valid, render
from medley.web.dependencies import call_authorize

router = APIRouter()

ADD_USER_HINT = "medley users add NAME --role admin"


class DashboardDenied(Exception):
    """Stop the request with an HTML answer: a redirect to the login form or a refusal."""

    def __init__(self, status: int, message: str, *, login: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.login = login


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def current_principal(request: Request) -> Principal:
    """The dashboard's caller, or `DashboardDenied`."""
    authorize = request.app.state.authorize
    if authorize is not None:
        principal = await call_authorize(authorize, request)
        if principal is None:
            raise DashboardDenied(403, "The host application's authorization refused access.")
        return principal
    signer: SessionSigner = request.app.state.sessions
    session = signer.read(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        return session.principal
    users: UserDirectory = request.app.state.users
    if await users.count() > 0:
        raise DashboardDenied(401, "Please sign in.", login=True)
    if is_loopback(request):
        return Principal(name="local", role=Role.ADMIN, via="loopback")
    raise DashboardDenied(
        403,
        "No dashboard users are configured, so the dashboard answers only on this machine "
        f"(loopback). Add a user with `{ADD_USER_HINT}`, then sign in.",
    )


async def acting_principal(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Principal:
    """For POST: the caller must be an admin and the form must carry the CSRF token."""
    form = await request.form()
    token = form.get("csrf_token")
    if not csrf_valid(request, token if isinstance(token, str) else None):
        raise DashboardDenied(403, "The form has expired or did not come from this dashboard.")
    if not principal.can_act:
        raise DashboardDenied(403, f"{principal.name} is a viewer: viewers cannot act.")
    return principal


def denied_response(request: Request, exc: DashboardDenied) -> Response:
    if exc.login:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(
            f"{base_url(request)}/login?next={quote(target, safe='')}", status_code=303
        )
    return render(
        request,
        "refused.html",
        None,
        status_code=exc.status,
        message=exc.message,
        hint=ADD_USER_HINT,
    )


def _safe_next(request: Request, target: str | None) -> str:
    """Only a path inside the dashboard: never an open redirect to another site."""
    base = base_url(request)
    if target and target.startswith(base + "/") and not target.startswith("//"):
        return target
    return base + "/"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", None, next=_safe_next(request, next), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    target = _safe_next(request, next)
    if not csrf_valid(request, csrf_token):
        return render(
            request,
            "login.html",
            None,
            status_code=403,
            next=target,
            error="The form expired. Please try again.",
        )
    users: UserDirectory = request.app.state.users
    principal = await users.verify(username, password)
    if principal is None:
        return render(
            request,
            "login.html",
            None,
            status_code=401,
            next=target,
            error="Wrong user name or password.",
        )
    signer: SessionSigner = request.app.state.sessions
    _, value = signer.issue(principal)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(signer.max_age_seconds),
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
        path=base_url(request),
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    token = form.get("csrf_token")
    if not csrf_valid(request, token if isinstance(token, str) else None):
        raise DashboardDenied(403, "The form has expired or did not come from this dashboard.")
    response = RedirectResponse(f"{base_url(request)}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=base_url(request))
    return response
