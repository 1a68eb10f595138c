"""SQLite job storage: the embedded default, one file shared by the processes of a machine.

One private thread owns one connection, so the event loop never waits on the file and the
connection is never used by two threads at once. Every write takes SQLite's single write
lock with BEGIN IMMEDIATE (WAL lets readers go on meanwhile): that is what makes a fetch
exclusive across processes without SKIP LOCKED, and what serialises migrations.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, LiteralString, TypeVar

from medley.application.errors import SchemaTooNewError, StorageError
from medley.application.models.jobs import LIVE_STATES, JobState
from medley.infrastructure.jobs.storage import sqlfile
from medley.infrastructure.jobs.storage.limit_records import LimitWaits
from medley.infrastructure.jobs.storage.migrate import check_applied
from medley.infrastructure.jobs.storage.port import (
    BatchInsertParams,
    BatchInsertResult,
    BatchRow,
    HeldJob,
    HistoryRow,
    JobBulkParams,
    JobCompletion,
    JobFetchParams,
    JobInsertParams,
    JobInsertResult,
    JobListParams,
    JobLogAppendParams,
    JobLogListParams,
    JobLogRow,
    JobLogRows,
    JobPerformanceRow,
    JobRescueParams,
    JobRow,
    JobSearchParams,
    NotificationCallback,
    ProgressUpdate,
    QueueHeadRow,
    QueueRow,
    RecurringFireParams,
    RecurringRow,
    RecurringUpsertParams,
    ServerParams,
    ServerRow,
    StateCount,
    StatWindowParams,
    StoreCapabilities,
    Subscription,
    ThroughputRow,
    TokenRow,
    UserRow,
)
from medley.infrastructure.jobs.storage.sqlite import _limits
from medley.infrastructure.jobs.storage.sqlite import _workflows as _wf
from medley.infrastructure.jobs.storage.sqlite._errors import map_errors
from medley.infrastructure.jobs.storage.sqlite._rows import (
    history_row,
    job_row,
    server_row,
    to_datetime,
    to_seconds,
)
from medley.infrastructure.jobs.storage.sqlite._sql import (
    Q,
    begin,
    connect,
    execute,
    guarded,
    in_transaction,
    run,
    split_statements,
    transaction,
    write,
    write_count,
    write_many,
)

MIGRATIONS = sqlfile.load_migrations("medley.infrastructure.jobs.storage.sqlite.migrations")

MIN_SQLITE_VERSION = (3, 35, 0)
"""RETURNING arrived in 3.35 (UPDATE ... FROM in 3.33; the JSON functions are built in)."""

_LIST_ANCHOR: LiteralString = "1 = 1"
_LIST_FILTERS: dict[str, LiteralString] = {
    "state": "state = :state",
    "queue": "queue = :queue",
    "job": "job = :job",
    "before_id": "id < :before_id",
}
if Q["job_list"].count(_LIST_ANCHOR) != 1:
    raise RuntimeError("job_list must hold its filter anchor exactly once")

WORKER_LOST_ERROR = json.dumps(
    {
        "type": "WorkerLostError",
        "message": "the worker running this job stopped heartbeating",
        "traceback": None,
    }
)

T = TypeVar("T")


class SqliteJobStore(_limits.SqliteLimitMethods):
    """JobStore on one SQLite file. Safe for many tasks (they queue on the store's thread)
    and for several processes on one machine (they queue on the file's write lock)."""

    capabilities = StoreCapabilities(listen_notify=False, name="sqlite")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._limit_waits = LimitWaits()

    async def open(self) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            raise StorageError(
                f"Medley needs SQLite {'.'.join(map(str, MIN_SQLITE_VERSION))} or newer; "
                f"this Python has {sqlite3.sqlite_version}"
            )
        if self._conn is not None:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medley-sqlite")
        with map_errors(f"opening {self.path}"):
            loop = asyncio.get_running_loop()
            self._conn = await loop.run_in_executor(self._executor, connect, self.path)

    async def close(self) -> None:
        executor, conn = self._executor, self._conn
        self._executor = self._conn = None
        if executor is None:
            return
        if conn is not None:  # runs after the calls already queued on the thread
            await asyncio.get_running_loop().run_in_executor(executor, conn.close)
        executor.shutdown(wait=False)

    async def _call(self, doing: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        executor, conn = self._executor, self._conn
        if executor is None or conn is None:
            raise StorageError("the SQLite store is not open: call open() first")
        return await asyncio.get_running_loop().run_in_executor(executor, guarded, doing, fn, conn)

    # --- migrations -------------------------------------------------------------------

    async def migration_apply(self) -> list[int]:
        return await self._call("migrating", _migrate)

    async def migration_check(self) -> None:
        applied = await self._call("checking the schema version", _applied_versions)
        check_applied(applied, [version for version, _, _ in MIGRATIONS])

    # --- jobs -------------------------------------------------------------------------

    async def job_insert_many(
        self, params: Sequence[JobInsertParams], *, connection: object | None = None
    ) -> list[JobInsertResult]:
        """With `connection` (a `sqlite3.Connection` of the caller's thread), the insert runs
        there, synchronously; if no transaction is open, one is begun (IMMEDIATE) and left
        for the caller to commit or roll back."""
        if not params:
            return []
        insert = _insert_settled if _wf.needs_workflow(params) else _insert
        if connection is None:
            return await self._call("enqueueing", lambda c: in_transaction(c, insert, params))
        if not isinstance(connection, sqlite3.Connection):
            raise TypeError("connection must be a sqlite3.Connection")
        with map_errors("enqueueing in the caller's transaction"):
            if not connection.in_transaction:
                begin(connection)
            return insert(connection, params)

    async def job_fetch_available(self, params: JobFetchParams) -> list[JobRow]:
        values = {
            "queue": params.queue,
            "limit": params.limit,
            "worker_id": params.worker_id,
            "now": time.time(),
        }
        rows, wait = await self._call(
            "fetching jobs", lambda c: in_transaction(c, _limits.fetch, values)
        )
        self._limit_waits.set(params.queue, wait)  # for limit_wait_hint
        jobs = [job_row(r) for r in rows]
        jobs.sort(key=lambda j: (j.priority, j.run_at, j.id))  # RETURNING has no order
        return jobs

    async def job_set_state_if_processing(
        self, worker_id: str, completions: Sequence[JobCompletion]
    ) -> list[int]:
        if not completions:
            return []
        # One outcome per (job, attempt): UPDATE ... FROM would apply an arbitrary one.
        latest = list({(c.id, c.attempt): c for c in completions}.values())
        values = {
            "worker_id": worker_id,
            "outcomes": json.dumps([_outcome(c) for c in latest]),
            "now": time.time(),
            "limit_reports": _limits.reports(latest),
        }
        rows = await self._call("completing jobs", lambda c: in_transaction(c, _complete, values))
        written = {r["id"] for r in rows}
        return [i for i in dict.fromkeys(c.id for c in latest) if i in written]

    async def job_progress_update(self, worker_id: str, updates: Sequence[ProgressUpdate]) -> None:
        if not updates:
            return
        rows = [
            {
                "id": u.id,
                "attempt": u.attempt,
                "fraction": u.fraction,
                "message": u.message,
                "worker_id": worker_id,
            }
            for u in updates
        ]
        await self._call("storing progress", lambda c: write_many(c, "job_progress_update", rows))

    async def job_get(self, job_id: int) -> JobRow | None:
        rows = await self._call("reading a job", lambda c: run(c, "job_get", {"id": job_id}))
        return job_row(rows[0]) if rows else None

    async def job_history(self, job_id: int) -> list[HistoryRow]:
        rows = await self._call("reading history", lambda c: run(c, "job_history", {"id": job_id}))
        return [history_row(r) for r in rows]

    async def job_list(self, params: JobListParams) -> list[JobRow]:
        values: dict[str, Any] = {
            "state": params.state.value if params.state else None,
            "queue": params.queue,
            "job": params.job,
            "before_id": params.before_id,
        }
        conditions = [_LIST_FILTERS[k] for k, v in values.items() if v is not None]
        sql = Q["job_list"].replace(_LIST_ANCHOR, " AND ".join(conditions) or _LIST_ANCHOR)
        values["limit"] = params.limit
        rows = await self._call("listing jobs", lambda c: execute(c, sql, values).fetchall())
        return [job_row(r) for r in rows]

    async def _change_one(
        self, doing: str, name: LiteralString, job_id: int, *, settle: bool = False
    ) -> JobRow | None:
        values = {"id": job_id, "now": time.time()}
        if settle:  # the change may end a job that has dependants or a batch
            rows = await self._call(doing, lambda c: in_transaction(c, _settled, (name, values)))
        else:
            rows = await self._call(doing, lambda c: write(c, name, values))
        return job_row(rows[0]) if rows else None

    async def job_cancel(self, job_id: int) -> JobRow | None:
        return await self._change_one("cancelling a job", "job_cancel", job_id, settle=True)

    async def job_retry(self, job_id: int) -> JobRow | None:
        row = await self._call("retrying a job", lambda c: in_transaction(c, _retry, job_id))
        return job_row(row) if row else None

    async def job_delete(self, job_id: int) -> JobRow | None:
        return await self._change_one("deleting a job", "job_delete", job_id, settle=True)

    async def job_retry_many(self, params: JobBulkParams) -> list[int]:
        return await self._call(
            "retrying jobs", lambda c: in_transaction(c, _bulk, (params, "job_retry_many"))
        )

    async def job_delete_many(self, params: JobBulkParams) -> list[int]:
        return await self._call(
            "deleting jobs", lambda c: in_transaction(c, _bulk, (params, "job_delete_many"))
        )

    async def job_get_held(self, worker_id: str) -> list[HeldJob]:
        values = {"worker_id": worker_id}
        rows = await self._call("reading held jobs", lambda c: run(c, "job_get_held", values))
        return [HeldJob(r["id"], r["attempt"], bool(r["cancel_requested"])) for r in rows]

    async def job_get_cancel_requested(self, worker_id: str) -> list[int]:
        values = {"worker_id": worker_id}
        rows = await self._call(
            "reading cancel requests", lambda c: run(c, "job_get_cancel_requested", values)
        )
        return [r["id"] for r in rows]

    async def job_rescue(self, params: JobRescueParams) -> list[JobRow]:
        rows = await self._call("rescuing jobs", lambda c: in_transaction(c, _rescue, params))
        return sorted((job_row(r) for r in rows), key=lambda j: j.id)

    async def job_prune(self, state: JobState, finished_before: datetime) -> int:
        values = {"state": state.value, "finished_before": to_seconds(finished_before)}
        return await self._call("pruning jobs", lambda c: write_count(c, "job_prune", values))

    async def job_count_by_state(self) -> list[StateCount]:
        rows = await self._call("counting jobs", lambda c: run(c, "job_count_by_state"))
        return [StateCount(r["queue"], JobState(r["state"]), r["count"]) for r in rows]

    # --- servers and leadership -------------------------------------------------------

    async def server_heartbeat(self, params: ServerParams) -> None:
        values = {
            "id": params.id,
            "hostname": params.hostname,
            "pid": params.pid,
            "queues": json.dumps(list(params.queues)),
            "concurrency": params.concurrency,
            "running": params.running,
            "cpu_percent": params.cpu_percent,
            "rss_bytes": params.rss_bytes,
            "info": json.dumps(params.info),
            "slots": json.dumps(params.slots),
            "throttled": params.throttled,
            "started_at": to_seconds(params.started_at),
            "now": time.time(),
        }
        await self._call("heartbeating", lambda c: write(c, "server_heartbeat", values))

    async def server_delete(self, server_id: str) -> None:
        values = {"id": server_id}
        await self._call("deleting a server", lambda c: write(c, "server_delete", values))

    async def server_list(self) -> list[ServerRow]:
        rows = await self._call("listing servers", lambda c: run(c, "server_list"))
        return [server_row(r) for r in rows]

    async def server_prune(self, older_than_seconds: float) -> int:
        values = {"older_than_seconds": older_than_seconds, "now": time.time()}
        return await self._call("pruning servers", lambda c: write_count(c, "server_prune", values))

    async def leader_attempt_elect(self, name: str, leader_id: str, ttl_seconds: float) -> bool:
        values = {"name": name, "leader_id": leader_id, "ttl": ttl_seconds, "now": time.time()}
        rows = await self._call(
            "electing a leader", lambda c: write(c, "leader_attempt_elect", values)
        )
        return bool(rows) and rows[0]["leader_id"] == leader_id

    async def leader_resign(self, name: str, leader_id: str) -> None:
        values = {"name": name, "leader_id": leader_id}
        await self._call("resigning leadership", lambda c: write(c, "leader_resign", values))

    async def subscribe(self, callback: NotificationCallback) -> Subscription | None:
        return None  # no LISTEN/NOTIFY in SQLite: workers poll

    # --- web --------------------------------------------------------------------------

    async def user_upsert(self, name: str, password_hash: str, role: str) -> bool:
        values = {"name": name, "password_hash": password_hash, "role": role, "now": time.time()}
        rows = await self._call("storing a user", lambda c: write(c, "user_upsert", values))
        return bool(rows[0]["created"])

    async def user_get(self, name: str) -> UserRow | None:
        rows = await self._call("reading a user", lambda c: run(c, "user_get", {"name": name}))
        return _user_row(rows[0]) if rows else None

    async def user_delete(self, name: str) -> bool:
        values = {"name": name}
        return bool(await self._call("deleting a user", lambda c: write(c, "user_delete", values)))

    async def user_count(self) -> int:
        rows = await self._call("counting users", lambda c: run(c, "user_count"))
        return int(rows[0]["count"])

    async def token_insert(self, name: str, token_hash: str, role: str) -> int:
        values = {"name": name, "token_hash": token_hash, "role": role, "now": time.time()}
        rows = await self._call("storing a token", lambda c: write(c, "token_insert", values))
        return int(rows[0]["id"])

    async def token_get_by_hash(self, token_hash: str) -> TokenRow | None:
        values = {"token_hash": token_hash}
        rows = await self._call("reading a token", lambda c: run(c, "token_get_by_hash", values))
        return _token_row(rows[0]) if rows else None

    async def token_revoke(self, token_id: int) -> bool:
        values = {"id": token_id, "now": time.time()}
        return bool(
            await self._call("revoking a token", lambda c: write(c, "token_revoke", values))
        )

    async def token_list(self) -> list[TokenRow]:
        rows = await self._call("listing tokens", lambda c: run(c, "token_list"))
        return [_token_row(r) for r in rows]

    async def queue_set_paused(self, name: str, paused: bool) -> None:
        values = {"name": name, "paused": paused, "now": time.time()}
        await self._call("pausing a queue", lambda c: write(c, "queue_set_paused", values))

    async def queue_list(self) -> list[QueueRow]:
        rows = await self._call("listing queues", lambda c: run(c, "queue_list"))
        return [QueueRow(name=r["name"], paused=bool(r["paused"])) for r in rows]

    async def stat_count_by_state(self) -> list[StateCount]:
        rows = await self._call("reading counters", lambda c: run(c, "stat_count_by_state"))
        return [StateCount(r["queue"], JobState(r["state"]), r["count"]) for r in rows]

    async def stat_throughput(self, since: datetime) -> list[ThroughputRow]:
        values = {"since": max(to_seconds(since), 1.0)}
        rows = await self._call("reading throughput", lambda c: run(c, "stat_throughput", values))
        return [
            ThroughputRow(
                minute=to_datetime(r["minute"]), state=JobState(r["state"]), count=r["count"]
            )
            for r in rows
        ]

    async def stat_queue_heads(self) -> list[QueueHeadRow]:
        return await self._call("reading queue heads", _queue_heads)

    async def job_search(self, params: JobSearchParams) -> list[JobRow]:
        values: dict[str, Any] = {
            "state": params.state.value if params.state else None,
            "queue": params.queue,
            "job": params.job,
            "tag": params.tag,
            "before_id": params.before_id,
        }
        conditions = [_SEARCH_FILTERS[k] for k, v in values.items() if v is not None]
        sql = Q["job_search"].replace(_LIST_ANCHOR, " AND ".join(conditions) or _LIST_ANCHOR)
        values["limit"] = params.limit
        rows = await self._call("searching jobs", lambda c: execute(c, sql, values).fetchall())
        return [job_row(r) for r in rows]

    async def subscribe_events(self, callback: NotificationCallback) -> Subscription | None:
        return None  # no notifications in SQLite: event streams poll

    # --- observability ----------------------------------------------------------------

    async def job_log_append(self, params: JobLogAppendParams) -> int:
        if not params.entries:
            return 0
        entries = [
            {
                "job_id": x.job_id,
                "pos": x.pos,
                "boff": x.boff,
                "attempt": x.attempt,
                "at": to_seconds(x.at),
                "level": x.level,
                "logger": x.logger,
                "message": x.message,
            }
            for x in params.entries
        ]
        values = {
            "entries": json.dumps(entries),
            "max_lines": params.max_lines,
            "max_bytes": params.max_bytes,
        }
        rows = await self._call("storing job logs", lambda c: write(c, "job_log_append", values))
        return int(rows[0]["stored"])

    async def job_log_list(self, params: JobLogListParams) -> JobLogRows:
        values = {"job_id": params.job_id, "after_seq": params.after_seq, "limit": params.limit}
        lines, dropped = await self._call(
            "reading job logs",
            lambda c: (run(c, "job_log_list", values), run(c, "job_log_dropped", values)),
        )
        return JobLogRows(
            lines=[
                JobLogRow(**{**dict(r), "at": to_datetime(r["at"])})  # REAL seconds -> datetime
                for r in lines
            ],
            dropped=dropped[0]["dropped"],
        )

    async def stat_job_performance(self, params: StatWindowParams) -> list[JobPerformanceRow]:
        values = {"since": to_seconds(params.since), "job": params.job, "queue": params.queue}
        rows = await self._call(
            "reading job performance", lambda c: run(c, "stat_job_performance", values)
        )
        return [JobPerformanceRow(**dict(r)) for r in rows]

    # --- workflows --------------------------------------------------------------------

    async def batch_insert(self, params: BatchInsertParams) -> BatchInsertResult:
        def create(conn: sqlite3.Connection, p: BatchInsertParams) -> BatchInsertResult:
            return _wf.batch_insert(conn, p, _insert)

        return await self._call("creating a batch", lambda c: in_transaction(c, create, params))

    async def batch_add(
        self, batch_id: int, params: Sequence[JobInsertParams]
    ) -> list[JobInsertResult]:
        def add(conn: sqlite3.Connection, p: Sequence[JobInsertParams]) -> list[JobInsertResult]:
            return _wf.batch_add(conn, batch_id, p, _insert)

        return await self._call("adding to a batch", lambda c: in_transaction(c, add, params))

    async def batch_get(self, batch_id: int) -> BatchRow | None:
        rows = await self._call("reading a batch", lambda c: run(c, "batch_get", {"id": batch_id}))
        return _wf.batch_row(rows[0]) if rows else None

    async def recurring_upsert(self, params: RecurringUpsertParams) -> RecurringRow:
        values = {
            "name": params.name,
            "job": params.job,
            "args": params.payload_json[0],
            "kwargs": params.payload_json[1],
            "queue": params.queue,
            "priority": params.priority,
            "max_attempts": params.max_attempts,
            "timeout_seconds": params.timeout_seconds,
            "tags": json.dumps(list(params.tags)),
            "cron": params.cron,
            "timezone": params.timezone,
            "misfire": params.misfire,
            "next_run_at": to_seconds(params.next_run_at),
            "now": time.time(),
        }
        rows = await self._call(
            "storing a recurring job", lambda c: write(c, "recurring_upsert", values)
        )
        return _wf.recurring_row(rows[0])

    async def recurring_get(self, name: str) -> RecurringRow | None:
        rows = await self._call(
            "reading a recurring job", lambda c: run(c, "recurring_get", {"name": name})
        )
        return _wf.recurring_row(rows[0]) if rows else None

    async def recurring_list(self) -> list[RecurringRow]:
        rows = await self._call("listing recurring jobs", lambda c: run(c, "recurring_list"))
        return [_wf.recurring_row(r) for r in rows]

    async def recurring_list_due(self, now: datetime, limit: int) -> list[RecurringRow]:
        values = {"now": to_seconds(now), "limit": limit}
        rows = await self._call(
            "listing due recurring jobs", lambda c: run(c, "recurring_list_due", values)
        )
        return [_wf.recurring_row(r) for r in rows]

    async def recurring_next_due(self) -> datetime | None:
        rows = await self._call(
            "reading the next recurring tick", lambda c: run(c, "recurring_next_due", {})
        )
        value = rows[0]["next_run_at"] if rows else None
        return None if value is None else to_datetime(value)

    async def recurring_fire(self, params: RecurringFireParams) -> list[JobInsertResult] | None:
        def fire(conn: sqlite3.Connection, p: RecurringFireParams) -> list[JobInsertResult] | None:
            return _wf.recurring_fire(conn, p, _insert)

        return await self._call("firing a recurring job", lambda c: in_transaction(c, fire, params))

    async def recurring_set_paused(
        self, name: str, paused: bool, next_run_at: datetime | None = None
    ) -> RecurringRow | None:
        values = {
            "name": name,
            "paused": paused,
            "next_run_at": None if next_run_at is None else to_seconds(next_run_at),
            "now": time.time(),
        }
        rows = await self._call(
            "pausing a recurring job", lambda c: write(c, "recurring_set_paused", values)
        )
        return _wf.recurring_row(rows[0]) if rows else None

    async def recurring_delete(self, name: str) -> bool:
        rows = await self._call(
            "removing a recurring job", lambda c: write(c, "recurring_delete", {"name": name})
        )
        return bool(rows)


_SEARCH_FILTERS: dict[str, LiteralString] = {
    **_LIST_FILTERS,
    "tag": "EXISTS (SELECT 1 FROM json_each(medley_job.tags) WHERE value = :tag)",
}
if Q["job_search"].count(_LIST_ANCHOR) != 1:
    raise RuntimeError("job_search must hold its filter anchor exactly once")

# --- on the store's thread -------------------------------------------------------------


def _migrate(conn: sqlite3.Connection) -> list[int]:
    known = MIGRATIONS[-1][0]
    applied: list[int] = []
    # DDL is transactional in SQLite: a failed migration leaves no trace.
    with transaction(conn):
        run(conn, "migration_create_table")
        done = {r["version"] for r in run(conn, "migration_get_applied")}
        if done and max(done) > known:
            raise SchemaTooNewError(max(done), known)
        for version, name, text in MIGRATIONS:
            if version not in done:
                for statement in split_statements(text):
                    conn.execute(statement)
                values = {"version": version, "name": name, "now": time.time()}
                run(conn, "migration_record", values)
                applied.append(version)
    return applied


def _applied_versions(conn: sqlite3.Connection) -> list[int]:
    if not run(conn, "migration_table_exists")[0]["present"]:
        return []
    return [r["version"] for r in run(conn, "migration_get_applied")]


def _insert(conn: sqlite3.Connection, params: Sequence[JobInsertParams]) -> list[JobInsertResult]:
    """Insert a batch under the write lock: ids are reserved as one range and rows go
    through one executemany (a job's creation is read from the job, not stored in its
    history: see job_history)."""
    now = time.time()
    after: int = run(conn, "job_reserve_ids")[0]["last_id"]
    rows = [_insert_values(after + 1 + i, p, now) for i, p in enumerate(params)]
    inserted = conn.executemany(Q["job_insert_many"], rows).rowcount
    if inserted == len(params):
        return [JobInsertResult(after + 1 + i, p.state, False) for i, p in enumerate(params)]
    return _match_holders(conn, params, after)


def _insert_values(job_id: int, p: JobInsertParams, now: float) -> dict[str, Any]:
    return {
        "id": job_id,
        "job": p.job,
        "queue": p.queue,
        "priority": p.priority,
        "state": p.state.value,
        "args": p.payload_json[0],
        "kwargs": p.payload_json[1],
        "run_at": None if p.run_at is None else to_seconds(p.run_at),
        "max_attempts": p.max_attempts,
        "timeout_seconds": p.timeout_seconds,
        "unique_key": p.unique_key,
        "tags": json.dumps(list(p.tags)),
        "meta": json.dumps(p.meta) if p.meta else "{}",
        "now": now,
    }


def _match_holders(
    conn: sqlite3.Connection, params: Sequence[JobInsertParams], after: int
) -> list[JobInsertResult]:
    """Some rows were skipped for their unique key: each gets the live job holding the key,
    which may be a row of this very batch (the first one with that key)."""
    keys = sorted({p.unique_key for p in params if p.unique_key is not None})
    found = run(conn, "job_get_live_by_unique_key", {"unique_keys": json.dumps(keys)})
    holders = {r["unique_key"]: r for r in found}
    results: list[JobInsertResult] = []
    for i, p in enumerate(params):
        holder = holders.get(p.unique_key) if p.state in LIVE_STATES else None
        if holder is None or holder["id"] == after + 1 + i:
            results.append(JobInsertResult(after + 1 + i, p.state, False))
        else:
            results.append(JobInsertResult(holder["id"], JobState(holder["state"]), True))
    return results


def _outcome(c: JobCompletion) -> dict[str, Any]:
    return {
        "id": c.id,
        "attempt": c.attempt,
        "state": c.state.value,
        "reason": c.reason.value,
        "result": c.result_json,
        "error": c.error,
        "run_at": None if c.run_at is None else to_seconds(c.run_at),
        "progress_fraction": c.progress_fraction,
        "progress_message": c.progress_message,
        "release": c.release,
    }


def _retry(conn: sqlite3.Connection, job_id: int) -> sqlite3.Row | None:
    before = run(conn, "job_get", {"id": job_id})
    if not before:
        return None
    # SQLite's unique violation names the column, not the key: pass the key along.
    with map_errors("retrying a job", unique_key=before[0]["unique_key"]):
        return run(conn, "job_retry", {"id": job_id, "now": time.time()})[0]


def _bulk(conn: sqlite3.Connection, task: tuple[JobBulkParams, LiteralString]) -> list[int]:
    params, name = task
    selected = run(
        conn,
        "job_bulk_select",
        {
            "states": json.dumps([state.value for state in params.states]),
            "queue": params.queue,
            "job": params.job,
            "error_type": params.error_type,
            "for_retry": name == "job_retry_many",
            "limit": params.limit,
        },
    )
    ids = [r["id"] for r in selected]
    if ids:
        run(conn, name, {"ids": json.dumps(ids), "now": time.time()})
    return ids


def _rescue(conn: sqlite3.Connection, params: JobRescueParams) -> list[sqlite3.Row]:
    now = time.time()
    values = {"lease_seconds": params.lease_seconds, "now": now}
    found = run(conn, "job_rescue_candidates", values)
    if not found:
        return []
    candidates = [
        {
            "id": r["id"],
            "attempt": r["attempt"],
            "owner": r["lease_owner"],
            "run_at": to_seconds(params.retry_at(r["attempt"])) if params.retry_at else None,
        }
        for r in found
    ]
    changes = {"candidates": json.dumps(candidates), "error": WORKER_LOST_ERROR, "now": now}
    rescued = run(conn, "job_rescue", changes)
    _limits.release(conn, rescued)  # a rescued job must not wait on its own slot
    _wf.settle(conn, map(_wf.Finished.of, rescued))  # those that failed or were cancelled
    return rescued


def _complete(conn: sqlite3.Connection, values: dict[str, Any]) -> list[sqlite3.Row]:
    """Write outcomes and settle the jobs they end (dependants, batch), in one transaction;
    a job without workflows costs nothing more than the RETURNING of two columns."""
    rows = run(conn, "job_set_state_if_processing", values)
    _limits.release(conn, rows)
    if values["limit_reports"]:  # tokens reported, 429 blocks (ctx.report_usage, rate_limited)
        _limits.report(conn, values["limit_reports"], {r["id"] for r in rows})
    _wf.settle(conn, map(_wf.Finished.of, rows))
    return rows


def _settled(
    conn: sqlite3.Connection, task: tuple[LiteralString, dict[str, Any]]
) -> list[sqlite3.Row]:
    """Cancel or delete one job and settle what that ends, in one transaction."""
    name, values = task
    if name == "job_delete":
        _wf.delete_settled(conn, values["id"])
    rows = run(conn, name, values)
    if name == "job_cancel":
        _wf.settle(conn, map(_wf.Finished.of, rows[-1:]))
    return rows


def _insert_settled(
    conn: sqlite3.Connection, params: Sequence[JobInsertParams]
) -> list[JobInsertResult]:
    return _wf.insert(conn, params, _insert)


# --- web, on the store's thread ----------------------------------------------------------

QUEUE_HEADS_MAX = 10_000
"""Bound on the skip scan's steps (distinct (queue, priority) groups), against a runaway."""


def _queue_heads(conn: sqlite3.Connection) -> list[QueueHeadRow]:
    """Skip-scan medley_job_fetch_idx one (queue, priority) group at a time; the first
    entry of each group is its earliest run_at."""
    now = time.time()
    oldest: dict[str, float | None] = {}
    key: dict[str, Any] = {"queue": "", "priority": -(2**63)}
    for _ in range(QUEUE_HEADS_MAX):
        rows = run(conn, "stat_queue_heads", key)
        if not rows:
            break
        queue, priority, run_at = rows[0]["queue"], rows[0]["priority"], rows[0]["run_at"]
        due = run_at if run_at <= now else None
        known = oldest.get(queue)
        oldest[queue] = due if known is None else (known if due is None else min(known, due))
        key = {"queue": queue, "priority": priority}
    return [
        QueueHeadRow(queue=q, oldest_due_at=None if at is None else to_datetime(at))
        for q, at in sorted(oldest.items())
    ]


def _user_row(r: sqlite3.Row) -> UserRow:
    return UserRow(
        name=r["name"],
        password_hash=r["password_hash"],
        role=r["role"],
        created_at=to_datetime(r["created_at"]),
    )


def _token_row(r: sqlite3.Row) -> TokenRow:
    return TokenRow(
        id=r["id"],
        name=r["name"],
        role=r["role"],
        created_at=to_datetime(r["created_at"]),
        revoked_at=None if r["revoked_at"] is None else to_datetime(r["revoked_at"]),
    )
