"""What surrounds one attempt: its log scope (fields on every record, captured lines) and
its trace span. The executor enters `attempt_scope` around the job call, and everything
the job runs inside, its threads included, sees it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from medley.infrastructure.jobs.context import JobContext
from medley.infrastructure.observability import tracing
from medley.infrastructure.observability.context import JobScope, job_scope


@contextmanager
def attempt_scope(ctx: JobContext, meta: dict[str, Any], *, capture_all: bool) -> Iterator[None]:
    identity = ctx.identity
    scope = JobScope(fields=ctx.log_fields, capture=ctx.capture, capture_all=capture_all)
    with (
        job_scope(scope),
        tracing.attempt_span(identity.job, identity.id, identity.queue, identity.attempt, meta),
    ):
        yield
