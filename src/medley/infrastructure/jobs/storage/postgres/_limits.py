"""Named limits on PostgreSQL: which fetch statement a queue needs, the `limit_*` methods
of the store, and what finished attempts report to their limits. Slots, starts and token
reservations are taken and given back inside single statements
(job_fetch_available_limited[_fast] with medley_limit_grant, job_set_state_if_processing,
job_rescue)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, LiteralString

from medley.infrastructure.jobs.storage.limit_records import (
    LimitParams,
    LimitRow,
    LimitUsageRow,
    LimitWaits,
)
from medley.infrastructure.jobs.storage.port import JobCompletion, JobRow
from medley.infrastructure.jobs.storage.postgres._rows import job_row


def limit_row(r: dict[str, Any]) -> LimitRow:
    return LimitRow(
        name=r["name"],
        max_running=r["max_running"],
        source=r["source"],
        running=int(r["running"]),
        busy_keys=int(r["busy_keys"]),
        updated_at=r["updated_at"],
        rate=r["rate"],
        tokens=r["tokens"],
        period_seconds=float(r["period_seconds"]),
        blocked_until=r["blocked_until"],
        starts_used=float(r["starts_used"]),
        tokens_used=float(r["tokens_used"]),
    )


Fetch = Callable[[LiteralString, dict[str, Any]], Awaitable[list[dict[str, Any]]]]


async def report(run: Fetch, completions: Sequence[JobCompletion], written: Sequence[int]) -> None:
    """Apply what the written attempts tell their limits (tokens reported, 429 blocks) with
    limit_report, after their outcomes: one statement, and none at all in the usual case
    where no attempt reported anything. Not in the outcome's transaction (the outcome's
    fast path is autocommit): a crash between the two loses only a budget correction."""
    done = set(written)
    items = [
        c
        for c in completions
        if c.id in done and (c.limit_tokens is not None or c.limit_blocked_until is not None)
    ]
    if items:
        values = {
            "id": [c.id for c in items],
            "tokens": [c.limit_tokens for c in items],
            "blocked_until": [c.limit_blocked_until for c in items],
        }
        await run("limit_report", values)


class PostgresLimitMethods:
    """The `limit_*` methods of `PostgresJobStore` (a mixin, to keep the store small)."""

    if TYPE_CHECKING:
        _limits: LimitedQueues

        async def _fetch(
            self, name: LiteralString, params: dict[str, Any] | None = None
        ) -> list[dict[str, Any]]: ...

    async def limit_upsert(self, params: LimitParams) -> bool:
        values = {
            "name": params.name,
            "max_running": params.max_running,
            "rate": params.rate,
            "tokens": params.tokens,
            "period_seconds": params.period_seconds,
            "source": params.source,
        }
        return bool(await self._fetch("limit_upsert", values))

    async def limit_list(self) -> list[LimitRow]:
        return [limit_row(r) for r in await self._fetch("limit_list")]

    async def limit_delete(self, name: str) -> bool:
        return bool(await self._fetch("limit_delete", {"name": name}))

    async def limit_usage(self, name: str) -> list[LimitUsageRow]:
        rows = await self._fetch("limit_usage", {"name": name})
        return [LimitUsageRow(name=r["name"], key=r["key"], running=r["running"]) for r in rows]

    def limit_wait_hint(self, queue: str) -> float | None:
        return self._limits.waits.get(queue)


FAIR_SECONDS = 1.0
"""How long a queue is fetched with the fair statement after one of its limits bound."""


class LimitedQueues:
    """Which queues hold runnable jobs with a limit, as the last fetch of each saw it.

    `job_fetch_available` (the plain claim, exactly as cheap as without limits) leaves
    limited jobs alone and says whether any wait; while some do, that queue is fetched
    with `job_fetch_available_limited_fast`, which claims both kinds in fetch order and
    takes limit slots. When a limit binds there (a key granted fewer jobs than it locked),
    the rest of the batch, and every fetch of that queue for `FAIR_SECONDS`, goes through
    `job_fetch_available_limited`, which only locks jobs whose keys have room, so that a
    key at its bound holds back neither the queue nor other keys. A queue is never given a
    limited job without its slot: the plain statement cannot claim one, and both limited
    statements take slots with medley_limit_grant."""

    def __init__(self) -> None:
        self._queues: set[str] = set()
        self._fair_until: dict[str, float] = {}
        self.waits = LimitWaits()

    async def fetch(
        self, run: Fetch, queue: str, values: dict[str, Any], ahead: int = 0
    ) -> list[JobRow]:
        """`values["limit"]` jobs, plus up to `ahead` jobs without a limit when the queue
        holds no limited ones (the plain statement cannot claim those)."""
        limited = queue in self._queues
        if limited:
            rows = await self._fetch_limited(run, queue, values)
        else:
            rows = await run("job_fetch_available", {**values, "limit": values["limit"] + ahead})
        jobs = [job_row(r) for r in rows if r["id"] is not None]
        waiting = bool(rows and rows[0]["limited_waiting"])
        if waiting:
            self._queues.add(queue)
        else:
            self._queues.discard(queue)
        if waiting and not limited and len(jobs) < values["limit"]:
            # Limited jobs just showed up: fill the rest of the batch with them at once.
            rest = {**values, "limit": values["limit"] - len(jobs)}
            rows = await self._fetch_limited(run, queue, rest)
            jobs += [job_row(r) for r in rows if r["id"] is not None]
        wait = None
        if waiting and len(jobs) < values["limit"]:  # some were held back: until when?
            [row] = await run("limit_wait", {"queue": queue, "limit": values["limit"]})
            wait = row["wait"]
        if values["limit"] > 0:  # a claim of jobs ahead only learns nothing about waits
            self.waits.set(queue, wait)
        return jobs

    async def _fetch_limited(
        self, run: Fetch, queue: str, values: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Rows of the fast statement or, while a limit of `queue` binds, the fair one; the
        first row carries `limited_waiting` as each statement returns it."""
        if time.monotonic() < self._fair_until.get(queue, 0.0):
            rows = await run("job_fetch_available_limited", values)
            if rows and rows[0]["limited_denied"]:
                self._fair_until[queue] = time.monotonic() + FAIR_SECONDS
            return rows
        rows = await run("job_fetch_available_limited_fast", values)
        if not (rows and rows[0]["limited_denied"]):
            return rows
        self._fair_until[queue] = time.monotonic() + FAIR_SECONDS
        claimed = [r for r in rows if r["id"] is not None]
        if len(claimed) >= values["limit"]:
            return rows
        rest = {**values, "limit": values["limit"] - len(claimed)}
        more = await run("job_fetch_available_limited", rest)
        return [*claimed, *more] if claimed else more
