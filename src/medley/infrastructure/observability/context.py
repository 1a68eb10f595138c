"""Who is running: the job (and the web request behind it) that the current task or thread
works for, kept in contextvars so that it follows `await`s, tasks and the threads that
sync jobs run in (`contextvars.copy_context()`).

The web layer sets the request id; the executor sets the job scope around each attempt;
`JobContextFilter` reads both onto log records; the enqueue path stores the request id in
the job's metadata so that the job's own scope carries it again in the worker.
"""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

REQUEST_ID_MAX = 128
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")


@dataclass(frozen=True, slots=True)
class JobScope:
    """The log fields of one running attempt, and where its captured lines go."""

    fields: dict[str, Any]
    """job_id, job, queue, attempt, worker and (if known) request_id."""
    capture: Callable[[int, str, str, str, float], None] | None = field(default=None)
    """`capture(levelno, levelname, logger, message, created)`: store a line with the job."""
    capture_all: bool = False
    """Every record logged in this scope is captured, not only `ctx.log` lines."""


_job_scope: contextvars.ContextVar[JobScope | None] = contextvars.ContextVar(
    "medley_job_scope", default=None
)
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "medley_request_id", default=None
)


def current_job_scope() -> JobScope | None:
    return _job_scope.get()


ScopeTokens = tuple[contextvars.Token[JobScope | None], contextvars.Token[str | None] | None]


def enter_job_scope(scope: JobScope) -> ScopeTokens:
    """Make `scope` current (and its request id); `exit_job_scope` undoes it. For the
    executor, which pays this per attempt: cheaper than the `job_scope` block."""
    request = scope.fields.get("request_id")
    return _job_scope.set(scope), _request_id.set(request) if request else None


def exit_job_scope(tokens: ScopeTokens) -> None:
    scope_token, request_token = tokens
    if request_token is not None:
        _request_id.reset(request_token)
    _job_scope.reset(scope_token)


@contextmanager
def job_scope(scope: JobScope) -> Iterator[JobScope]:
    """Make `scope` current (and its request id) for the code run inside the block."""
    tokens = enter_job_scope(scope)
    try:
        yield scope
    finally:
        exit_job_scope(tokens)


def current_request_id() -> str | None:
    """The id of the web request (or of the job it enqueued) being served, if any."""
    return _request_id.get()


def clean_request_id(value: str | None) -> str | None:
    """A caller's `X-Request-ID` if it is a sane token, else None: the id ends up in logs
    and job metadata, so it is bounded and never holds spaces or control characters."""
    if value and _REQUEST_ID_OK.match(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def request_scope(request_id: str | None = None) -> Iterator[str]:
    """Serve one request under `request_id` (a new one if None): log records and jobs
    enqueued inside carry it."""
    value = clean_request_id(request_id) or new_request_id()
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)


def enqueue_meta() -> dict[str, Any]:
    """What an enqueue stores in the job's `meta` from the caller's context: the request
    id, so that the job's logs carry the id of the request that asked for it."""
    request = _request_id.get()
    return {"request_id": request} if request else {}
