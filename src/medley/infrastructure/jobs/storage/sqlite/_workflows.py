"""Continuations, batches and recurring jobs on SQLite, on the store's thread, inside the
write transaction of the operation that needs them (see PostgreSQL's `_workflows` for
the design). With one writer at a time there are no races to guard: whatever makes a job
final settles it (dependants released or cancelled, batch counted) before it commits."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from medley.application.errors import (
    BatchClosedError,
    BatchNotFoundError,
    InvalidArgumentsError,
)
from medley.application.models.jobs import FINAL_STATES, JobState
from medley.infrastructure.jobs.storage.port import (
    BatchInsertParams,
    BatchInsertResult,
    BatchRow,
    JobInsertParams,
    JobInsertResult,
    RecurringFireParams,
    RecurringRow,
)
from medley.infrastructure.jobs.storage.sqlite._rows import to_datetime, to_seconds
from medley.infrastructure.jobs.storage.sqlite._sql import run

Conn = sqlite3.Connection
InsertPlain = Callable[[Conn, Sequence[JobInsertParams]], list[JobInsertResult]]
"""The adapter's own insert (no workflow columns), on the same connection."""

_FINAL = frozenset(state.value for state in FINAL_STATES)


@dataclass(frozen=True, slots=True)
class Finished:
    """A job that just reached a final state, with what it still has to settle."""

    id: int
    state: str
    dependants: bool
    batch_pending: bool

    @classmethod
    def of(cls, row: Mapping[str, Any] | sqlite3.Row) -> Finished:
        return cls(row["id"], row["state"], row["dependants"] > 0, bool(row["batch_pending"]))

    @property
    def unsettled(self) -> bool:
        return self.state in _FINAL and (self.dependants or self.batch_pending)


def settle(conn: Conn, finished: Iterable[Finished]) -> dict[int, str]:
    """Settle jobs that just became final, and transitively the dependants this cancels.
    Returns the new state of every job it changed."""
    changed: dict[int, str] = {}
    todo = [f for f in finished if f.unsettled]
    while todo:
        found: list[sqlite3.Row] = []
        for name, part in (
            ("continuation_resolve", [f for f in todo if f.dependants]),
            ("batch_resolve", [f for f in todo if f.batch_pending]),
        ):
            if part:
                done = json.dumps([{"id": f.id, "state": f.state} for f in part])
                found += run(conn, name, {"finished": done, "now": time.time()})
        moved = [r for r in found if r["state"] != JobState.AWAITING]
        changed.update((r["id"], r["state"]) for r in moved)
        todo = [f for f in map(Finished.of, moved) if f.unsettled]
    return changed


def needs_workflow(params: Sequence[JobInsertParams]) -> bool:
    return any(p.depends_on or p.batch_id is not None for p in params)


def insert(
    conn: Conn, params: Sequence[JobInsertParams], insert_plain: InsertPlain
) -> list[JobInsertResult]:
    """Insert jobs some of which depend on others or belong to a batch (under the write
    lock the caller holds). Raises `InvalidArgumentsError` if a parent does not exist."""
    parents = Counter(parent for p in params for parent in set(p.depends_on))
    states: dict[int, str] = {}
    if parents:
        marks = json.dumps([{"id": i, "n": n} for i, n in sorted(parents.items())])
        states = {
            r["id"]: r["state"] for r in run(conn, "continuation_lock_parents", {"parents": marks})
        }
        missing = sorted(set(parents) - states.keys())
        if missing:
            raise InvalidArgumentsError(f"depends_on: there is no job {missing[0]}")
    results = insert_plain(conn, params)
    fresh = [(r.id, p) for r, p in zip(results, params, strict=True) if not r.existing]
    children = [
        {"id": i, "depends_on": list(dict.fromkeys(p.depends_on)), "continue_on": p.continue_on}
        for i, p in fresh
        if p.depends_on
    ]
    if children:
        run(conn, "continuation_attach", {"children": json.dumps(children)})
    for batch_id in {p.batch_id for _, p in fresh if p.batch_id is not None}:
        members = json.dumps([i for i, p in fresh if p.batch_id == batch_id])
        run(conn, "batch_attach", {"batch_id": batch_id, "ids": members})
    done = [Finished(i, s, True, False) for i, s in states.items() if s in _FINAL]
    changed = settle(conn, done)  # parents already final settle the new edges now
    return [r._replace(state=JobState(changed[r.id])) if r.id in changed else r for r in results]


def batch_insert(
    conn: Conn, params: BatchInsertParams, insert_plain: InsertPlain
) -> BatchInsertResult:
    callbacks: dict[str, int | None] = {"on_complete": None, "on_success": None}
    for role, p in (("on_complete", params.on_complete), ("on_success", params.on_success)):
        if p is not None:
            callbacks[role] = insert_plain(conn, [p])[0].id
    [batch] = run(
        conn,
        "batch_insert",
        {
            "description": params.description,
            "total": len(params.jobs),
            "on_complete_id": callbacks["on_complete"],
            "on_success_id": callbacks["on_success"],
            "now": time.time(),
        },
    )
    members = [replace(p, batch_id=batch["id"]) for p in params.jobs]
    return BatchInsertResult(
        id=batch["id"],
        jobs=insert(conn, members, insert_plain),
        on_complete_id=callbacks["on_complete"],
        on_success_id=callbacks["on_success"],
    )


def batch_add(
    conn: Conn, batch_id: int, params: Sequence[JobInsertParams], insert_plain: InsertPlain
) -> list[JobInsertResult]:
    if not run(conn, "batch_add", {"id": batch_id, "count": len(params)}):
        if not run(conn, "batch_get", {"id": batch_id}):
            raise BatchNotFoundError(batch_id)
        raise BatchClosedError(batch_id)
    return insert(conn, [replace(p, batch_id=batch_id) for p in params], insert_plain)


def recurring_fire(
    conn: Conn, params: RecurringFireParams, insert_plain: InsertPlain
) -> list[JobInsertResult] | None:
    expected, later = params.expected_next_run_at, params.next_run_at
    claimed = run(
        conn,
        "recurring_fire",
        {
            "name": params.name,
            "expected": None if expected is None else to_seconds(expected),
            "next_run_at": None if later is None else to_seconds(later),
            "now": time.time(),
        },
    )
    if not claimed:
        return None
    results = insert_plain(conn, params.jobs) if params.jobs else []
    if results:
        values = {
            "name": params.name,
            "last_run_at": to_seconds(params.last_run_at),
            "last_job_id": results[-1].id,
        }
        run(conn, "recurring_set_last", values)
    return results


def delete_settled(conn: Conn, job_id: int) -> None:
    """Before a job that is not final is deleted: settle it as if cancelled."""
    for row in run(conn, "continuation_lock_job", {"id": job_id}):
        if row["state"] not in _FINAL and row["state"] != JobState.PROCESSING:
            settle(conn, [Finished.of({**dict(row), "state": JobState.CANCELLED.value})])


def batch_row(r: sqlite3.Row) -> BatchRow:
    finished = r["finished_at"]
    return BatchRow(
        id=r["id"],
        description=r["description"],
        total=r["total"],
        pending=r["pending"],
        succeeded=r["succeeded"],
        failed=r["failed"],
        cancelled=r["cancelled"],
        on_complete_id=r["on_complete_id"],
        on_success_id=r["on_success_id"],
        created_at=to_datetime(r["created_at"]),
        finished_at=None if finished is None else to_datetime(finished),
    )


def recurring_row(r: sqlite3.Row) -> RecurringRow:
    state, last = r["last_job_state"], r["last_run_at"]
    return RecurringRow(
        name=r["name"],
        job=r["job"],
        args=json.loads(r["args"]),
        kwargs=json.loads(r["kwargs"]),
        queue=r["queue"],
        priority=r["priority"],
        max_attempts=r["max_attempts"],
        timeout_seconds=r["timeout_seconds"],
        tags=json.loads(r["tags"]),
        cron=r["cron"],
        timezone=r["timezone"],
        misfire=r["misfire"],
        paused=bool(r["paused"]),
        next_run_at=to_datetime(r["next_run_at"]),
        last_run_at=None if last is None else to_datetime(last),
        last_job_id=r["last_job_id"],
        last_job_state=JobState(state) if state else None,
        created_at=to_datetime(r["created_at"]),
    )
