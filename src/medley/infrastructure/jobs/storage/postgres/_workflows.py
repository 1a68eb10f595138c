"""Continuations, batches and recurring jobs on PostgreSQL: the multi-statement steps that
run inside one transaction (the caller's, or one `PostgresJobStore` opens).

The one rule: whatever makes a job final also *settles* it in the same transaction,
releasing or cancelling its dependants and counting it in its batch (`settle`). Each
settling statement runs after the statement that made the job final, so READ COMMITTED
gives it a snapshot in which every dependant declared before that job's row was locked
is visible; one declared later saw the job final and settled its own edge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, LiteralString

import psycopg
from psycopg.rows import dict_row

from medley.application.errors import (
    BatchClosedError,
    BatchNotFoundError,
    InvalidArgumentsError,
)
from medley.application.models.jobs import FINAL_STATES, JobState
from medley.infrastructure.jobs.storage import sqlfile
from medley.infrastructure.jobs.storage.port import (
    BatchInsertParams,
    BatchInsertResult,
    JobInsertParams,
    JobInsertResult,
    RecurringFireParams,
    RecurringRow,
)

Q = sqlfile.load_queries("medley.infrastructure.jobs.storage.postgres.sql")
Row = dict[str, Any]
Conn = psycopg.AsyncConnection[Any]
InsertPlain = Callable[[Conn, Sequence[JobInsertParams]], Awaitable[list[JobInsertResult]]]
"""The adapter's own insert (no workflow columns), run on the same connection."""

_FINAL = frozenset(state.value for state in FINAL_STATES)


@dataclass(frozen=True, slots=True)
class Finished:
    """A job that just reached a final state, with what it still has to settle."""

    id: int
    state: str
    dependants: bool
    batch_pending: bool

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Finished:
        return cls(row["id"], row["state"], row["dependants"] > 0, bool(row["batch_pending"]))

    @property
    def unsettled(self) -> bool:
        return self.state in _FINAL and (self.dependants or self.batch_pending)


async def rows(conn: Conn, name: LiteralString, params: Row) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(Q[name], params)
    return await cur.fetchall() if cur.description else []


async def settle(conn: Conn, finished: Iterable[Finished]) -> dict[int, str]:
    """Settle jobs that just became final, and transitively the dependants this cancels.
    Returns the new state of every job it changed. A no-op for jobs without workflows."""
    changed: dict[int, str] = {}
    todo = [f for f in finished if f.unsettled]
    while todo:
        found: list[Row] = []
        for name, part in (
            ("continuation_resolve", [f for f in todo if f.dependants]),
            ("batch_resolve", [f for f in todo if f.batch_pending]),
        ):
            if part:
                ids, states = [f.id for f in part], [f.state for f in part]
                found += await rows(conn, name, {"id": ids, "state": states})
        changed.update((r["id"], r["state"]) for r in found)
        todo = [f for f in map(Finished.of, found) if f.unsettled]
    return changed


async def insert(
    conn: Conn, params: Sequence[JobInsertParams], insert_plain: InsertPlain
) -> list[JobInsertResult]:
    """Insert jobs some of which depend on others or belong to a batch (in the caller's
    transaction). Raises `InvalidArgumentsError` if a parent does not exist."""
    parents = Counter(parent for p in params for parent in set(p.depends_on))
    states: dict[int, str] = {}
    if parents:
        ids = sorted(parents)
        locked = await rows(
            conn, "continuation_lock_parents", {"id": ids, "count": [parents[i] for i in ids]}
        )
        states = {r["id"]: r["state"] for r in locked}
        missing = sorted(set(ids) - states.keys())
        if missing:
            raise InvalidArgumentsError(f"depends_on: there is no job {missing[0]}")
    results = await insert_plain(conn, params)
    fresh = [(r.id, p) for r, p in zip(results, params, strict=True) if not r.existing]
    children = [(i, p) for i, p in fresh if p.depends_on]
    if children:
        await rows(
            conn,
            "continuation_attach",
            {
                "id": [i for i, _ in children],
                "depends_on": [_json_ids(p.depends_on) for _, p in children],
                "continue_on": [p.continue_on for _, p in children],
            },
        )
    for batch_id in {p.batch_id for _, p in fresh if p.batch_id is not None}:
        members = [i for i, p in fresh if p.batch_id == batch_id]
        await rows(conn, "batch_attach", {"batch_id": batch_id, "id": members})
    done = [Finished(i, s, True, False) for i, s in states.items() if s in _FINAL]
    changed = await settle(conn, done)  # parents already final settle the new edges now
    return [r._replace(state=JobState(changed[r.id])) if r.id in changed else r for r in results]


def needs_workflow(params: Sequence[JobInsertParams]) -> bool:
    return any(p.depends_on or p.batch_id is not None for p in params)


async def batch_insert(
    conn: Conn, params: BatchInsertParams, insert_plain: InsertPlain
) -> BatchInsertResult:
    """Callbacks first (awaiting, released by batch_resolve), then the batch, then the
    members, all in the caller's transaction."""
    callbacks: dict[str, int | None] = {"on_complete": None, "on_success": None}
    for role, p in (("on_complete", params.on_complete), ("on_success", params.on_success)):
        if p is not None:
            callbacks[role] = (await insert_plain(conn, [p]))[0].id
    [batch] = await rows(
        conn,
        "batch_insert",
        {
            "description": params.description,
            "total": len(params.jobs),
            "on_complete_id": callbacks["on_complete"],
            "on_success_id": callbacks["on_success"],
        },
    )
    members = [replace(p, batch_id=batch["id"]) for p in params.jobs]
    return BatchInsertResult(
        id=batch["id"],
        jobs=await insert(conn, members, insert_plain),
        on_complete_id=callbacks["on_complete"],
        on_success_id=callbacks["on_success"],
    )


async def batch_add(
    conn: Conn, batch_id: int, params: Sequence[JobInsertParams], insert_plain: InsertPlain
) -> list[JobInsertResult]:
    opened = await rows(conn, "batch_add", {"id": batch_id, "count": len(params)})
    if not opened:
        if not await rows(conn, "batch_get", {"id": batch_id}):
            raise BatchNotFoundError(batch_id)
        raise BatchClosedError(batch_id)
    members = [replace(p, batch_id=batch_id) for p in params]
    return await insert(conn, members, insert_plain)


async def recurring_fire(
    conn: Conn, params: RecurringFireParams, insert_plain: InsertPlain
) -> list[JobInsertResult] | None:
    claimed = await rows(
        conn,
        "recurring_fire",
        {
            "name": params.name,
            "expected": params.expected_next_run_at,
            "next_run_at": params.next_run_at,
        },
    )
    if not claimed:
        return None
    results = await insert_plain(conn, params.jobs) if params.jobs else []
    if results:
        await rows(
            conn,
            "recurring_set_last",
            {"name": params.name, "last_run_at": params.last_run_at, "last_job_id": results[-1].id},
        )
    return results


async def delete_settled(conn: Conn, job_id: int) -> None:
    """Before a job that is not final is deleted: settle it as if cancelled, so that its
    dependants and batch do not wait for it forever."""
    for row in await rows(conn, "continuation_lock_job", {"id": job_id}):
        if row["state"] not in _FINAL and row["state"] != "processing":
            await settle(conn, [Finished.of({**row, "state": JobState.CANCELLED.value})])


def _json_ids(ids: Sequence[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in dict.fromkeys(ids)) + "]"


def recurring_row(r: Row) -> RecurringRow:
    state = r["last_job_state"]
    return RecurringRow(
        name=r["name"],
        job=r["job"],
        args=r["args"],
        kwargs=r["kwargs"],
        queue=r["queue"],
        priority=r["priority"],
        max_attempts=r["max_attempts"],
        timeout_seconds=r["timeout_seconds"],
        tags=r["tags"],
        cron=r["cron"],
        timezone=r["timezone"],
        misfire=r["misfire"],
        paused=r["paused"],
        next_run_at=r["next_run_at"],
        last_run_at=r["last_run_at"],
        last_job_id=r["last_job_id"],
        last_job_state=JobState(state) if state else None,
        created_at=r["created_at"],
    )
