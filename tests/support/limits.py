"""Jobs of a named limit and the fetch that claims them, for the limit contract tests."""

from __future__ import annotations

from typing import Any

from medley.infrastructure.jobs.storage.port import JobFetchParams, JobInsertParams
from tests.support.jobs import job_params


def limited(
    limit: str, key: str | None = None, *, tokens: int | None = None, **overrides: Any
) -> JobInsertParams:
    """A job of `limit` (per `key` for a keyed limit), reserving `tokens` if given: the
    meta an enqueue of a `@medley.job(limit=...)` stores."""
    meta: dict[str, Any] = {"limit": limit}
    if key is not None:
        meta["limit_key"] = key
    if tokens is not None:
        meta["limit_tokens"] = tokens
    return job_params(meta=meta, **overrides)


def fetch(worker_id: str = "worker-a", limit: int = 10) -> JobFetchParams:
    return JobFetchParams(queue="default", limit=limit, worker_id=worker_id)
