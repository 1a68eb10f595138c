"""Jobs of a named limit and the fetch that claims them, for the limit contract tests; and
the wait for a limit's token count, for the tests of a running worker."""

from __future__ import annotations

from typing import Any

from medley.infrastructure.jobs.storage.port import JobFetchParams, JobInsertParams
from medley.infrastructure.services.background_job_service import JobService
from tests.support.jobs import job_params
from tests.support.wait import wait_for


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


async def wait_for_tokens_used(
    service: JobService, name: str, expected: float, *, tolerance: float = 5.0
) -> None:
    """Wait until limit `name` counts `expected` tokens used. A job's usage report is
    written just after its outcome (limit_report, a statement of its own), so `wait` on
    the job can return while the limit still counts the job's reservation."""
    seen: list[float] = []

    async def counted() -> bool:
        info = await service.limit_get(name)
        assert info is not None, f"limit {name!r} is not defined"
        seen.append(info.tokens_used)
        return abs(info.tokens_used - expected) <= tolerance

    await wait_for(
        counted, timeout=10, message=f"limit {name!r} counts {expected} tokens used: {seen[-1:]}"
    )
