"""The one mapping from errors to HTTP: status, a stable `code` and a human `message`.

Every error body is `{"code": "...", "message": "..."}` (validation errors add `errors`).
Tracebacks never reach a client: an unexpected exception is logged and answered 500.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from medley.application.errors import (
    BatchClosedError,
    BatchNotFoundError,
    ConfigError,
    DuplicateJobError,
    InvalidArgumentsError,
    InvalidTransitionError,
    JobNotFoundError,
    LimitNotFoundError,
    MedleyError,
    MigrationRequiredError,
    RecurringJobNotFoundError,
    StorageUnavailableError,
    UnknownJobError,
    WaitTimeoutError,
)

log = logging.getLogger("medley.web")

STATUS_BY_ERROR: tuple[tuple[type[MedleyError], int], ...] = (
    (JobNotFoundError, 404),
    (RecurringJobNotFoundError, 404),
    (BatchNotFoundError, 404),
    (LimitNotFoundError, 404),
    (UnknownJobError, 422),
    (InvalidArgumentsError, 422),
    (ConfigError, 422),
    (InvalidTransitionError, 409),
    (DuplicateJobError, 409),
    (BatchClosedError, 409),
    (WaitTimeoutError, 504),
    (StorageUnavailableError, 503),
    (MigrationRequiredError, 503),
    (MedleyError, 500),
)
"""First match wins, so subclasses come before their parents."""


class WebError(Exception):
    """An error of the web layer itself (authentication, authorization, not found)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def unauthenticated(message: str) -> WebError:
    return WebError(401, "unauthenticated", message, {"WWW-Authenticate": "Bearer"})


def forbidden(message: str) -> WebError:
    return WebError(403, "forbidden", message)


def error_code(exc: MedleyError) -> str:
    """`JobNotFoundError` -> `job_not_found`: stable, derived from the class name."""
    name = type(exc).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def status_for(exc: MedleyError) -> int:
    return next(status for kind, status in STATUS_BY_ERROR if isinstance(exc, kind))


def error_body(code: str, message: str) -> dict[str, object]:
    return {"code": code, "message": message}


async def _medley_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MedleyError)
    status = status_for(exc)
    if status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    return JSONResponse(error_body(error_code(exc), str(exc)), status_code=status)


async def _web_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WebError)
    return JSONResponse(
        error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    message = f"invalid {'.'.join(first['loc'][1:]) or 'request'}: {first['msg']}"
    body = {**error_body("invalid_request", message), "errors": errors}
    return JSONResponse(body, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path)
    return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MedleyError, _medley_error)
    app.add_exception_handler(WebError, _web_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
