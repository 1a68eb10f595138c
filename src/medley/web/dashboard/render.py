"""Templates and the values every page gets: the caller, the CSRF token, the base URL.

Autoescaping is on for every template, so job arguments, results, errors and names (all
attacker-controlled) render as text. Nothing is ever marked safe.
"""

from __future__ import annotations

import json
import math
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from medley.web.auth.principal import Principal

PREFIX = "/hangfire"
CSRF_COOKIE = "medley_csrf"
HERE = Path(__file__).parent

env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours < 48 else f"{hours // 24}d {hours % 24}h"


def _since(value: datetime | None) -> str:
    return "—" if value is None else _age((datetime.now(UTC) - value).total_seconds())


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat()


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=True)


def _number(value: int) -> str:
    return f"{value:,}"


def _megabytes(value: int) -> str:
    return f"{value / 1_048_576:.0f} MB"


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%" if math.isfinite(value) else "—"


env.filters.update(
    age=_age,
    since=_since,
    when=_when,
    iso=_iso,
    pretty=_pretty,
    number=_number,
    megabytes=_megabytes,
    percent=_percent,
)


def base_url(request: Request) -> str:
    """The dashboard's root as the browser sees it (the mount path of a host app first)."""
    return str(request.scope.get("root_path", "")).rstrip("/") + PREFIX


def _csrf_serializer(request: Request) -> URLSafeSerializer:
    secret: str = request.app.state.sessions.secret
    return URLSafeSerializer(secret, salt="medley-dashboard-csrf")


def csrf_token(request: Request) -> tuple[str, bool]:
    """The browser's CSRF token, and whether it is new (then the cookie must be set)."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if cookie:
        try:
            return str(_csrf_serializer(request).loads(cookie)), False
        except BadSignature:
            pass
    return secrets.token_urlsafe(24), True


def csrf_valid(request: Request, submitted: str | None) -> bool:
    token, new = csrf_token(request)
    return not new and bool(submitted) and secrets.compare_digest(token, submitted or "")


def cookie_secure(request: Request) -> bool:
    configured: bool | None = request.app.state.settings.cookie_secure
    return request.url.scheme == "https" if configured is None else configured


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    token, new = csrf_token(request)
    html = env.get_template(template).render(
        request=request,
        base=base_url(request),
        principal=principal,
        csrf_token=token,
        query=request.query_params,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    if new:
        response.set_cookie(
            CSRF_COOKIE,
            _csrf_serializer(request).dumps(token),
            httponly=True,
            samesite="strict",
            secure=cookie_secure(request),
            path=base_url(request),
        )
    return response
