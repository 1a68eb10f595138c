"""Global concurrency limits on PostgreSQL: which fetch statement a queue needs, and the
rows of the limit queries. The slots themselves are taken and given back inside single
statements (job_fetch_available_limited, job_set_state_if_processing, job_rescue)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, LiteralString

from medley.infrastructure.jobs.storage.port import JobRow, LimitRow
from medley.infrastructure.jobs.storage.postgres._rows import job_row


def limit_row(r: dict[str, Any]) -> LimitRow:
    return LimitRow(
        name=r["name"],
        max_running=r["max_running"],
        source=r["source"],
        running=int(r["running"]),
        busy_keys=int(r["busy_keys"]),
        updated_at=r["updated_at"],
    )


Fetch = Callable[[LiteralString, dict[str, Any]], Awaitable[list[dict[str, Any]]]]


class LimitedQueues:
    """Which queues hold runnable jobs with a limit, as the last fetch of each saw it.

    `job_fetch_available` (the plain claim, exactly as cheap as without limits) leaves
    limited jobs alone and says whether any wait; while some do, that queue is fetched
    with `job_fetch_available_limited`, which claims both kinds in fetch order and takes
    limit slots. A queue is never given a limited job without its slot: the plain
    statement cannot claim one."""

    def __init__(self) -> None:
        self._queues: set[str] = set()

    async def fetch(self, run: Fetch, queue: str, values: dict[str, Any]) -> list[JobRow]:
        limited = queue in self._queues
        rows = await run(
            "job_fetch_available_limited" if limited else "job_fetch_available", values
        )
        jobs = [job_row(r) for r in rows if r["id"] is not None]
        waiting = bool(rows and rows[0]["limited_waiting"])
        if waiting:
            self._queues.add(queue)
        else:
            self._queues.discard(queue)
        if waiting and not limited and len(jobs) < values["limit"]:
            # Limited jobs just showed up: fill the rest of the batch with them at once.
            rest = {**values, "limit": values["limit"] - len(jobs)}
            rows = await run("job_fetch_available_limited", rest)
            jobs += [job_row(r) for r in rows if r["id"] is not None]
        return jobs
