"""Named limits on SQLite, on the store's thread, inside the transaction of the write they
belong to (the claim, the outcome, the rescue). SQLite has one writer at a time (BEGIN
IMMEDIATE), so reading the caps and buckets and then changing them is race-free here,
where PostgreSQL needs row locks (medley_limit_grant)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from medley.infrastructure.jobs.storage.limit_records import (
    LimitParams,
    LimitRow,
    LimitUsageRow,
    LimitWaits,
)
from medley.infrastructure.jobs.storage.port import JobCompletion
from medley.infrastructure.jobs.storage.sqlite._rows import to_datetime, to_seconds
from medley.infrastructure.jobs.storage.sqlite._sql import run, write

T = TypeVar("T")


def fetch(
    conn: sqlite3.Connection, values: dict[str, Any]
) -> tuple[list[sqlite3.Row], float | None]:
    """Claim a batch (job_fetch_available) letting in only the limited jobs that were
    granted room, then take their slots and spend their buckets. Also returns, when the
    batch is not full, how long until a job held back by a rate or a block may start
    (`JobStore.limit_wait_hint`; one empty index probe without limited jobs)."""
    granted = run(conn, "limit_fetch_grantable", values)
    rows = run(
        conn, "job_fetch_available", {**values, "limited": json.dumps([r["id"] for r in granted])}
    )
    _take(conn, rows, values["now"])  # also jobs of an undefined limit: see limit_take
    wait = None
    if len(rows) < values["limit"]:
        [row] = run(conn, "limit_wait", values)
        wait = row["wait"]
    return rows, wait


def _take(conn: sqlite3.Connection, rows: Iterable[sqlite3.Row], now: float) -> None:
    taken: dict[tuple[str, str], tuple[int, float]] = {}
    for r in rows:
        if r["limit_name"] is None:
            continue
        n, tokens = taken.get((r["limit_name"], r["limit_key"]), (0, 0.0))
        taken[(r["limit_name"], r["limit_key"])] = (n + 1, tokens + reserved_tokens(r["meta"]))
    for (limit, key), (n, tokens) in sorted(taken.items()):
        values = {"name": limit, "key": key, "n": n, "tokens": tokens, "now": now}
        run(conn, "limit_take", values)


def reserved_tokens(meta: str | None) -> float:
    value = json.loads(meta).get("limit_tokens", 0) if meta else 0
    return float(value) if isinstance(value, int | float) else 0.0


def release(conn: sqlite3.Connection, rows: Iterable[sqlite3.Row]) -> None:
    """Give back the slots of jobs that just left `processing`."""
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        if r["limit_name"] is not None:
            pair = (r["limit_name"], r["limit_key"])
            counts[pair] = counts.get(pair, 0) + 1
    for (limit, key), n in sorted(counts.items()):
        run(conn, "limit_release", {"name": limit, "key": key, "n": n})


def reports(completions: Sequence[JobCompletion]) -> list[dict[str, Any]]:
    """What the attempts tell their limits (reported tokens, 429 blocks), for `report`."""
    return [
        {
            "id": c.id,
            "tokens": c.limit_tokens,
            "blocked_until": None
            if c.limit_blocked_until is None
            else to_seconds(c.limit_blocked_until),
        }
        for c in completions
        if c.limit_tokens is not None or c.limit_blocked_until is not None
    ]


def report(conn: sqlite3.Connection, items: Sequence[dict[str, Any]], written: set[int]) -> None:
    """Apply the reports of the attempts whose outcome was just written (same transaction)."""
    now = time.time()
    for item in items:
        if item["id"] in written:
            run(conn, "limit_report", {**item, "now": now})


def limit_row(r: sqlite3.Row) -> LimitRow:
    return LimitRow(
        name=r["name"],
        max_running=r["max_running"],
        source=r["source"],
        running=int(r["running"]),
        busy_keys=int(r["busy_keys"]),
        updated_at=to_datetime(r["updated_at"]),
        rate=r["rate"],
        tokens=r["tokens"],
        period_seconds=float(r["period_seconds"]),
        blocked_until=None if r["blocked_until"] is None else to_datetime(r["blocked_until"]),
        starts_used=float(r["starts_used"]),
        tokens_used=float(r["tokens_used"]),
    )


class SqliteLimitMethods:
    """The `limit_*` methods of `SqliteJobStore` (a mixin, to keep the store module small)."""

    if TYPE_CHECKING:
        _limit_waits: LimitWaits

        async def _call(self, doing: str, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def limit_upsert(self, params: LimitParams) -> bool:
        values = {
            "name": params.name,
            "max_running": params.max_running,
            "rate": params.rate,
            "tokens": params.tokens,
            "period_seconds": params.period_seconds,
            "source": params.source,
            "now": time.time(),
        }
        rows = await self._call("defining a limit", lambda c: write(c, "limit_upsert", values))
        return bool(rows)

    async def limit_list(self) -> list[LimitRow]:
        values = {"now": time.time()}
        rows = await self._call("listing limits", lambda c: run(c, "limit_list", values))
        return [limit_row(r) for r in rows]

    async def limit_delete(self, name: str) -> bool:
        values = {"name": name}
        rows = await self._call("removing a limit", lambda c: write(c, "limit_delete", values))
        return bool(rows)

    async def limit_usage(self, name: str) -> list[LimitUsageRow]:
        rows = await self._call("reading a limit", lambda c: run(c, "limit_usage", {"name": name}))
        return [LimitUsageRow(name=r["name"], key=r["key"], running=r["running"]) for r in rows]

    def limit_wait_hint(self, queue: str) -> float | None:
        return self._limit_waits.get(queue)
