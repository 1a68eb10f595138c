"""What surrounds one attempt: its log scope (fields on every record, captured lines) and
its trace span. The executor enters `AttemptScope` around the job call, and everything
the job runs inside, its threads included, sees it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from medley.infrastructure.jobs.context import JobContext
from medley.infrastructure.observability import tracing
from medley.infrastructure.observability.context import (
    JobScope,
    ScopeTokens,
    enter_job_scope,
    exit_job_scope,
)


class AttemptScope:
    """A class rather than a generator-based context manager, and no span at all while
    tracing is off: entered once per attempt, the generator machinery cost ~5% of a no-op
    job's time in the worker."""

    __slots__ = ("_capture_all", "_ctx", "_meta", "_span", "_tokens")

    def __init__(self, ctx: JobContext, meta: dict[str, Any], *, capture_all: bool) -> None:
        self._ctx = ctx
        self._meta = meta
        self._capture_all = capture_all
        self._tokens: ScopeTokens | None = None
        self._span: AbstractContextManager[None] | None = None

    def __enter__(self) -> None:
        ctx = self._ctx
        scope = JobScope(fields=ctx.log_fields, capture=ctx.capture, capture_all=self._capture_all)
        self._tokens = enter_job_scope(scope)
        if tracing.active():
            identity = ctx.identity
            span = tracing.attempt_span(
                identity.job, identity.id, identity.queue, identity.attempt, self._meta
            )
            try:
                span.__enter__()
            except BaseException:
                exit_job_scope(self._tokens)
                raise
            self._span = span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._span is not None:
                self._span.__exit__(exc_type, exc, traceback)
        finally:
            if self._tokens is not None:
                exit_job_scope(self._tokens)
