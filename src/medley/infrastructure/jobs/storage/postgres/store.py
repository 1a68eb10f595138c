"""PostgreSQL job storage on psycopg 3 (async) with a connection pool.

Connections run in autocommit, so a one-statement operation (fetch, complete, insert)
costs one round trip; multi-statement operations open an explicit transaction.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, LiteralString, TypeVar

import psycopg
import psycopg.abc
import psycopg.adapt
import psycopg.errors
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from medley.application.errors import (
    DuplicateJobError,
    SchemaTooNewError,
    StorageError,
)
from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.storage import sqlfile
from medley.infrastructure.jobs.storage.migrate import check_applied
from medley.infrastructure.jobs.storage.port import (
    CHANNEL_EVENTS,
    BatchInsertParams,
    BatchInsertResult,
    BatchRow,
    HeldJob,
    HistoryRow,
    InsertedRun,
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
    UniformInserts,
    UserRow,
    shared_rows,
)
from medley.infrastructure.jobs.storage.postgres import _limits
from medley.infrastructure.jobs.storage.postgres import _workflows as _wf
from medley.infrastructure.jobs.storage.postgres._connections import Connections
from medley.infrastructure.jobs.storage.postgres._copy import (
    CopyLayout,
    chunks,
    copy_jobs,
    copy_value,
    meta_json,
    tags_json,
)
from medley.infrastructure.jobs.storage.postgres._errors import map_errors
from medley.infrastructure.jobs.storage.postgres._limits import LimitedQueues, PostgresLimitMethods
from medley.infrastructure.jobs.storage.postgres._rows import history_row, job_row, server_row
from medley.infrastructure.jobs.storage.postgres.listener import PostgresListener

Q = sqlfile.load_queries("medley.infrastructure.jobs.storage.postgres.sql")
MIGRATIONS = sqlfile.load_migrations("medley.infrastructure.jobs.storage.postgres.migrations")

COPY_THRESHOLD = 64
"""Batches at least this large, with no unique keys, go through COPY."""

WORKER_LOST_ERROR = json.dumps(
    {
        "type": "WorkerLostError",
        "message": "the worker running this job stopped heartbeating",
        "traceback": None,
    }
)

Row = dict[str, Any]
T = TypeVar("T")
DEADLOCK_ATTEMPTS = 3

_DECODE_JSON = json.JSONDecoder().decode


class _JsonLoader(psycopg.adapt.Loader):
    """json/jsonb columns decoded in the connection's encoding straight to
    `JSONDecoder.decode`: psycopg's own loader hands bytes to `json.loads`, which sniffs
    the encoding of every value; a worker decodes four per job. Each empty value is a
    new object: a caller may mutate what it got."""

    def __init__(self, oid: int, context: psycopg.abc.AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        conn = self.connection
        self._encoding = conn.info.encoding if conn is not None else "utf-8"

    def load(self, data: psycopg.abc.Buffer) -> Any:
        text = str(data, self._encoding)
        # Most jobs have no kwargs, tags or meta: skip the decoder for those.
        if text == "{}":
            return {}
        if text == "[]":
            return []
        return _DECODE_JSON(text)


ADAPTERS = psycopg.adapt.AdaptersMap(psycopg.adapters)
ADAPTERS.register_loader("jsonb", _JsonLoader)
ADAPTERS.register_loader("json", _JsonLoader)


class PostgresJobStore(PostgresLimitMethods):
    """JobStore on PostgreSQL. One instance per process is enough: it pools connections
    and shares one LISTEN connection among all subscribers."""

    capabilities = StoreCapabilities(listen_notify=True, name="postgres")

    def __init__(self, conninfo: str, *, pool_min: int = 1, pool_max: int = 10) -> None:
        self.conninfo = conninfo
        self._limits = LimitedQueues()
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] = AsyncConnectionPool(
            conninfo,
            min_size=pool_min,
            max_size=pool_max,
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row, "context": ADAPTERS},
            connection_class=psycopg.AsyncConnection[Row],
            timeout=10,
        )
        self._conns = Connections(self._pool)
        self._listener = PostgresListener(conninfo)
        self._event_listener = PostgresListener(conninfo, channels=(CHANNEL_EVENTS,))

    async def open(self) -> None:
        with map_errors("connecting"):
            # One direct attempt first: a wrong host or password fails in seconds with the
            # server's own message, instead of a pool timeout after retries.
            probe = await psycopg.AsyncConnection.connect(self.conninfo, connect_timeout=5)
            await probe.close()
            await self._pool.open(wait=True, timeout=10)

    async def close(self) -> None:
        await self._listener.close()
        await self._event_listener.close()
        await self._conns.close()

    async def _fetch(self, name: LiteralString, params: Row | None = None) -> list[Row]:
        with map_errors(name):
            async with self._conns.lease() as conn:
                cur = await self._conns.cursor(conn).execute(Q[name], params)
                return await cur.fetchall() if cur.description else []

    async def _fetch_in_tx(self, steps: Sequence[tuple[LiteralString, Row | None]]) -> list[Row]:
        """Run statements in one transaction; return the last one's rows."""
        rows: list[Row] = []
        with map_errors(steps[-1][0]):
            async with self._conns.lease() as conn, conn.transaction():
                for name, params in steps:
                    cur = await conn.execute(Q[name], params)
                    rows = await cur.fetchall() if cur.description else []
        return rows

    # --- migrations -------------------------------------------------------------------

    async def migration_apply(self) -> list[int]:
        known = MIGRATIONS[-1][0]
        applied: list[int] = []
        with map_errors("migrating"):
            async with self._conns.lease() as conn, conn.transaction():
                await conn.execute(Q["migration_lock"])
                await conn.execute(Q["migration_create_table"])
                cur = await conn.execute(Q["migration_get_applied"])
                done = {r["version"] for r in await cur.fetchall()}
                if done and max(done) > known:
                    raise SchemaTooNewError(max(done), known)
                for version, name, text in MIGRATIONS:
                    if version not in done:
                        await conn.execute(text.encode())
                        await conn.execute(
                            Q["migration_record"], {"version": version, "name": name}
                        )
                        applied.append(version)
        return applied

    async def migration_check(self) -> None:
        present = (await self._fetch("migration_table_exists"))[0]["present"]
        rows = await self._fetch("migration_get_applied") if present else []
        check_applied([r["version"] for r in rows], [version for version, _, _ in MIGRATIONS])

    # --- jobs -------------------------------------------------------------------------

    async def job_insert_many(
        self, params: Sequence[JobInsertParams], *, connection: object | None = None
    ) -> Sequence[JobInsertResult]:
        if not params:
            return []
        if connection is not None:
            if not isinstance(connection, psycopg.AsyncConnection):
                raise TypeError("connection must be a psycopg.AsyncConnection")
            with map_errors("enqueueing in the caller's transaction"):
                if _wf.needs_workflow(params):
                    return await _wf.insert(connection, params, self._insert_unnest)
                return await self._insert_unnest(connection, params)
        shared = shared_rows(params)
        if _wf.needs_workflow(shared):  # continuations, batch members: never COPY
            return await self._in_tx(
                "enqueueing", lambda conn: _wf.insert(conn, params, self._insert_unnest)
            )
        use_copy = len(params) >= COPY_THRESHOLD and all(p.unique_key is None for p in shared)
        with map_errors("enqueueing"):
            async with self._conns.lease() as conn:
                if use_copy:
                    async with conn.transaction():
                        return await self._insert_copy(conn, params)
                return await self._insert_unnest(conn, params)

    async def _insert_unnest(
        self, conn: psycopg.AsyncConnection[Any], params: Sequence[JobInsertParams]
    ) -> list[JobInsertResult]:
        cur = self._conns.cursor(conn)
        if len(params) == 1:
            await cur.execute(Q["job_insert_one"], _one_values(params[0]))
            inserted = await cur.fetchall()
            if inserted:  # the common case, kept short: a single enqueue is latency-bound
                row = inserted[0]
                return [JobInsertResult(row["id"], JobState(row["state"]), False)]
        else:
            await cur.execute(Q["job_insert_many"], _many_values(params))
            inserted = sorted(await cur.fetchall(), key=lambda r: r["id"])
        existing: dict[str, Row] = {}
        if len(inserted) < len(params):
            keys = [p.unique_key for p in params if p.unique_key is not None]
            await cur.execute(Q["job_get_live_by_unique_key"], {"unique_keys": keys})
            existing = {r["unique_key"]: r for r in await cur.fetchall()}
        return _match_inserted(params, inserted, existing)

    async def _insert_copy(
        self, conn: psycopg.AsyncConnection[Row], params: Sequence[JobInsertParams]
    ) -> Sequence[JobInsertResult]:
        counts = _per_queue_and_state(params)
        cur = await conn.execute(
            Q["job_reserve_ids"],
            {
                "jobs": len(params),
                "count_queue": [queue for queue, _ in counts],
                "count_state": [state.value for _, state in counts],
                "count": list(counts.values()),
                "queues": sorted({q for q, state in counts if state is JobState.ENQUEUED}),
            },
        )
        reserved = await cur.fetchone()
        assert reserved is not None
        ids: Sequence[int] = reserved["ids"] or range(reserved["first_id"], reserved["last_id"] + 1)
        # The database clock, as for every other insert, in COPY's text form.
        now = copy_value(reserved["now"].isoformat())
        layout = CopyLayout.of(params)
        async with conn.cursor().copy(Q["job_copy"].replace(_COPY_ANCHOR, layout.columns)) as copy:
            for start, stop in chunks(len(params)):
                await copy.write(copy_jobs(layout, ids, params, start, stop, now))
        if isinstance(params, UniformInserts):  # one state for all, rows not made
            return InsertedRun(ids, params.first.state)
        return [JobInsertResult(i, p.state, False) for i, p in zip(ids, params, strict=True)]

    async def job_fetch_available(self, params: JobFetchParams) -> list[JobRow]:
        values = {"queue": params.queue, "limit": params.limit, "worker_id": params.worker_id}
        return await self._limits.fetch(self._fetch, params.queue, values, params.ahead)

    async def job_set_state_if_processing(
        self, worker_id: str, completions: Sequence[JobCompletion]
    ) -> list[int]:
        if not completions:
            return []
        rows = await self._fetch(
            "job_set_state_if_processing", _completion_values(worker_id, completions, False)
        )
        written = [r["id"] for r in rows]
        if len(written) < len(completions):
            # Held back by the fast path: jobs with continuations or in a batch (or fenced
            # off, which the resolving path finds again). Written and settled in one
            # transaction; jobs without workflows never get here.
            done = set(written)
            rest = [c for c in completions if c.id not in done]
            written += await self._complete_settling(worker_id, rest)
        await _limits.report(self._fetch, completions, written)  # ctx.report_usage, 429s
        return written

    async def _complete_settling(
        self, worker_id: str, completions: Sequence[JobCompletion]
    ) -> list[int]:
        values = _completion_values(worker_id, completions, True)
        with map_errors("completing jobs"):
            async with self._conns.lease() as conn, conn.transaction():
                rows = await _wf.rows(conn, "job_set_state_if_processing", values)
                await _wf.settle(conn, map(_wf.Finished.of, rows))
        return [r["id"] for r in rows]

    async def job_progress_update(self, worker_id: str, updates: Sequence[ProgressUpdate]) -> None:
        if updates:
            await self._fetch(
                "job_progress_update",
                {
                    "worker_id": worker_id,
                    "id": [u.id for u in updates],
                    "attempt": [u.attempt for u in updates],
                    "fraction": [u.fraction for u in updates],
                    "message": [u.message for u in updates],
                },
            )

    async def job_get(self, job_id: int) -> JobRow | None:
        rows = await self._fetch("job_get", {"id": job_id})
        return job_row(rows[0]) if rows else None

    async def job_history(self, job_id: int) -> list[HistoryRow]:
        return [history_row(r) for r in await self._fetch("job_history", {"id": job_id})]

    async def job_list(self, params: JobListParams) -> list[JobRow]:
        return await self.job_search(
            JobSearchParams(
                state=params.state,
                queue=params.queue,
                job=params.job,
                before_id=params.before_id,
                limit=params.limit,
            )
        )

    async def _one(self, name: LiteralString, job_id: int) -> JobRow | None:
        rows = await self._fetch(name, {"id": job_id})
        return job_row(rows[0]) if rows else None

    async def job_cancel(self, job_id: int) -> JobRow | None:
        async def cancel(conn: psycopg.AsyncConnection[Any]) -> list[Row]:
            rows = await _wf.rows(conn, "job_cancel", {"id": job_id})
            await _wf.settle(conn, map(_wf.Finished.of, rows))  # dependants, batch
            return rows

        rows = await self._in_tx("cancelling a job", cancel)
        return job_row(rows[0]) if rows else None

    async def job_retry(self, job_id: int) -> JobRow | None:
        return await self._one("job_retry", job_id)

    async def job_delete(self, job_id: int) -> JobRow | None:
        async def delete(conn: psycopg.AsyncConnection[Any]) -> list[Row]:
            await _wf.delete_settled(conn, job_id)
            return await _wf.rows(conn, "job_delete", {"id": job_id})

        rows = await self._in_tx("deleting a job", delete)
        return job_row(rows[0]) if rows else None

    async def job_retry_many(self, params: JobBulkParams) -> list[int]:
        return [r["id"] for r in await self._fetch("job_retry_many", _bulk_values(params))]

    async def job_delete_many(self, params: JobBulkParams) -> list[int]:
        return [r["id"] for r in await self._fetch("job_delete_many", _bulk_values(params))]

    async def job_get_held(self, worker_id: str) -> list[HeldJob]:
        rows = await self._fetch("job_get_held", {"worker_id": worker_id})
        return [HeldJob(r["id"], r["attempt"], r["cancel_requested"]) for r in rows]

    async def job_get_cancel_requested(self, worker_id: str) -> list[int]:
        rows = await self._fetch("job_get_cancel_requested", {"worker_id": worker_id})
        return [r["id"] for r in rows]

    async def job_rescue(self, params: JobRescueParams) -> list[JobRow]:
        with map_errors("rescuing jobs"):
            async with self._conns.lease() as conn, conn.transaction():
                cur = await conn.execute(
                    Q["job_rescue_candidates"], {"lease_seconds": params.lease_seconds}
                )
                found = await cur.fetchall()
                if not found:
                    return []
                cur = await conn.execute(
                    Q["job_rescue"],
                    {
                        "id": [r["id"] for r in found],
                        "attempt": [r["attempt"] for r in found],
                        "owner": [r["lease_owner"] for r in found],
                        "run_at": [
                            params.retry_at(r["attempt"]) if params.retry_at else None
                            for r in found
                        ],
                        "error": WORKER_LOST_ERROR,
                    },
                )
                rescued = await cur.fetchall()
                await _wf.settle(conn, map(_wf.Finished.of, rescued))  # those that failed
                return [job_row(r) for r in rescued]

    async def job_prune(self, state: JobState, finished_before: datetime) -> int:
        rows = await self._fetch(
            "job_prune", {"state": state.value, "finished_before": finished_before}
        )
        return int(rows[0]["pruned"])

    async def job_count_by_state(self) -> list[StateCount]:
        rows = await self._fetch("job_count_by_state")
        return [StateCount(r["queue"], JobState(r["state"]), r["count"]) for r in rows]

    # --- servers and leadership -------------------------------------------------------

    async def server_heartbeat(self, params: ServerParams) -> None:
        await self._fetch(
            "server_heartbeat",
            {
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
                "started_at": params.started_at,
            },
        )

    async def server_delete(self, server_id: str) -> None:
        await self._fetch("server_delete", {"id": server_id})

    async def server_list(self) -> list[ServerRow]:
        return [server_row(r) for r in await self._fetch("server_list")]

    async def server_prune(self, older_than_seconds: float) -> int:
        with map_errors("server_prune"):
            async with self._conns.lease() as conn:
                cur = await conn.execute(
                    Q["server_prune"], {"older_than_seconds": older_than_seconds}
                )
                return cur.rowcount

    async def leader_attempt_elect(self, name: str, leader_id: str, ttl_seconds: float) -> bool:
        rows = await self._fetch(
            "leader_attempt_elect",
            {"name": name, "leader_id": leader_id, "ttl_seconds": ttl_seconds},
        )
        return bool(rows) and rows[0]["leader_id"] == leader_id

    async def leader_resign(self, name: str, leader_id: str) -> None:
        await self._fetch("leader_resign", {"name": name, "leader_id": leader_id})

    async def subscribe(self, callback: NotificationCallback) -> Subscription | None:
        return await self._listener.subscribe(callback)

    # --- web --------------------------------------------------------------------------

    async def user_upsert(self, name: str, password_hash: str, role: str) -> bool:
        values = {"name": name, "password_hash": password_hash, "role": role}
        return bool((await self._fetch("user_upsert", values))[0]["created"])

    async def user_get(self, name: str) -> UserRow | None:
        rows = await self._fetch("user_get", {"name": name})
        return UserRow(**rows[0]) if rows else None

    async def user_delete(self, name: str) -> bool:
        return bool(await self._fetch("user_delete", {"name": name}))

    async def user_count(self) -> int:
        return int((await self._fetch("user_count"))[0]["count"])

    async def token_insert(self, name: str, token_hash: str, role: str) -> int:
        values = {"name": name, "token_hash": token_hash, "role": role}
        return int((await self._fetch("token_insert", values))[0]["id"])

    async def token_get_by_hash(self, token_hash: str) -> TokenRow | None:
        rows = await self._fetch("token_get_by_hash", {"token_hash": token_hash})
        return TokenRow(**rows[0]) if rows else None

    async def token_revoke(self, token_id: int) -> bool:
        return bool(await self._fetch("token_revoke", {"id": token_id}))

    async def token_list(self) -> list[TokenRow]:
        return [TokenRow(**r) for r in await self._fetch("token_list")]

    async def queue_set_paused(self, name: str, paused: bool) -> None:
        await self._fetch("queue_set_paused", {"name": name, "paused": paused})

    async def queue_list(self) -> list[QueueRow]:
        return [QueueRow(**r) for r in await self._fetch("queue_list")]

    async def stat_count_by_state(self) -> list[StateCount]:
        rows = await self._fetch("stat_count_by_state")
        return [StateCount(r["queue"], JobState(r["state"]), int(r["count"])) for r in rows]

    async def stat_throughput(self, since: datetime) -> list[ThroughputRow]:
        rows = await self._fetch("stat_throughput", {"since": since})
        return [
            ThroughputRow(minute=r["minute"], state=JobState(r["state"]), count=int(r["count"]))
            for r in rows
        ]

    async def stat_queue_heads(self) -> list[QueueHeadRow]:
        return [QueueHeadRow(**r) for r in await self._fetch("stat_queue_heads")]

    async def job_search(self, params: JobSearchParams) -> list[JobRow]:
        values: Row = {
            "state": params.state.value if params.state else None,
            "queue": params.queue,
            "job": params.job,
            "tag": params.tag,
            "before_id": params.before_id,
        }
        conditions = [_SEARCH_FILTERS[k] for k, v in values.items() if v is not None]
        by_name = params.job is not None
        if params.state in _BACKLOG:
            query = _union([_search_query(conditions, part, by_name) for part in _BACKLOG_PARTS])
        elif params.state is None and by_name:
            query = _union(
                [
                    _search_query(conditions, _LISTED_PART),
                    *(_search_query(conditions, part, True) for part in _BACKLOG_PARTS),
                ]
            )
        elif params.state is not None:
            # Stated outright: a prepared statement's generic plan knows no state value,
            # so cannot prove it that medley_job_state_idx and medley_job_name_idx hold it.
            query = _search_query(conditions, _LISTED_PART)
        else:
            query = _search_query(conditions)
        values["limit"] = params.limit
        with map_errors("searching jobs"):
            async with self._conns.lease() as conn:
                cur = await conn.execute(query, values)
                return [job_row(r) for r in await cur.fetchall()]

    async def subscribe_events(self, callback: NotificationCallback) -> Subscription | None:
        return await self._event_listener.subscribe(callback)

    # --- observability ----------------------------------------------------------------

    async def job_log_append(self, params: JobLogAppendParams) -> int:
        if not params.entries:
            return 0
        e = params.entries
        rows = await self._fetch(
            "job_log_append",
            {
                "job_id": [x.job_id for x in e],
                "attempt": [x.attempt for x in e],
                "at": [x.at for x in e],
                "level": [x.level for x in e],
                "logger": [x.logger for x in e],
                "message": [x.message for x in e],
                "pos": [x.pos for x in e],
                "boff": [x.boff for x in e],
                "max_lines": params.max_lines,
                "max_bytes": params.max_bytes,
            },
        )
        return int(rows[0]["stored"])

    async def job_log_list(self, params: JobLogListParams) -> JobLogRows:
        values = {"job_id": params.job_id, "after_seq": params.after_seq, "limit": params.limit}
        rows = await self._fetch("job_log_list", values)
        dropped = await self._fetch("job_log_dropped", values)
        return JobLogRows(lines=[JobLogRow(**r) for r in rows], dropped=dropped[0]["dropped"])

    async def stat_job_performance(self, params: StatWindowParams) -> list[JobPerformanceRow]:
        values = {"since": params.since, "job": params.job, "queue": params.queue}
        rows = await self._fetch("stat_job_performance", values)
        return [JobPerformanceRow(**r) for r in rows]

    # --- workflows --------------------------------------------------------------------

    async def _in_tx(
        self, doing: str, fn: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]
    ) -> T:
        """Run `fn` in a transaction of its own. Workflow writes lock several rows (the
        parents of a continuation, the dependants they settle) in an order PostgreSQL may
        find crossing another writer's: a deadlock victim is simply run again."""
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                with map_errors(doing):
                    async with self._conns.lease() as conn, conn.transaction():
                        return await fn(conn)
            except StorageError as exc:
                deadlock = isinstance(exc.__cause__, psycopg.errors.DeadlockDetected)
                if not deadlock or attempt == DEADLOCK_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def batch_insert(self, params: BatchInsertParams) -> BatchInsertResult:
        return await self._in_tx(
            "creating a batch", lambda conn: _wf.batch_insert(conn, params, self._insert_unnest)
        )

    async def batch_add(
        self, batch_id: int, params: Sequence[JobInsertParams]
    ) -> list[JobInsertResult]:
        return await self._in_tx(
            "adding to a batch",
            lambda conn: _wf.batch_add(conn, batch_id, params, self._insert_unnest),
        )

    async def batch_get(self, batch_id: int) -> BatchRow | None:
        rows = await self._fetch("batch_get", {"id": batch_id})
        return BatchRow(**rows[0]) if rows else None

    async def recurring_upsert(self, params: RecurringUpsertParams) -> RecurringRow:
        rows = await self._fetch(
            "recurring_upsert",
            {
                "name": params.name,
                "job": params.job,
                "args": params.payload_json[0],
                "kwargs": params.payload_json[1],
                "queue": params.queue,
                "priority": params.priority,
                "max_attempts": params.max_attempts,
                "timeout_seconds": params.timeout_seconds,
                "tags": tags_json(params.tags),
                "cron": params.cron,
                "timezone": params.timezone,
                "misfire": params.misfire,
                "next_run_at": params.next_run_at,
            },
        )
        return _wf.recurring_row(rows[0])

    async def recurring_get(self, name: str) -> RecurringRow | None:
        rows = await self._fetch("recurring_get", {"name": name})
        return _wf.recurring_row(rows[0]) if rows else None

    async def recurring_list(self) -> list[RecurringRow]:
        return [_wf.recurring_row(r) for r in await self._fetch("recurring_list")]

    async def recurring_list_due(self, now: datetime, limit: int) -> list[RecurringRow]:
        rows = await self._fetch("recurring_list_due", {"now": now, "limit": limit})
        return [_wf.recurring_row(r) for r in rows]

    async def recurring_next_due(self) -> datetime | None:
        rows = await self._fetch("recurring_next_due")
        value: datetime | None = rows[0]["next_run_at"]
        return value

    async def recurring_fire(self, params: RecurringFireParams) -> list[JobInsertResult] | None:
        return await self._in_tx(
            "firing a recurring job",
            lambda conn: _wf.recurring_fire(conn, params, self._insert_unnest),
        )

    async def recurring_set_paused(
        self, name: str, paused: bool, next_run_at: datetime | None = None
    ) -> RecurringRow | None:
        values = {"name": name, "paused": paused, "next_run_at": next_run_at}
        rows = await self._fetch("recurring_set_paused", values)
        return _wf.recurring_row(rows[0]) if rows else None

    async def recurring_delete(self, name: str) -> bool:
        return bool(await self._fetch("recurring_delete", {"name": name}))


_SEARCH_ANCHOR: LiteralString = "1 = 1"
_SEARCH_FILTERS: dict[str, LiteralString] = {
    "state": "state = %(state)s",
    "queue": "queue = %(queue)s",
    "job": "job = %(job)s",
    # `tags <> '[]'`: the tag index holds tagged jobs only (migration 0009).
    "tag": "tags @> jsonb_build_array(%(tag)s::text) AND tags <> '[]'::jsonb",
    "before_id": "id < %(before_id)s",
}
_PARTS_ANCHOR: LiteralString = "PARTS"
_COPY_ANCHOR: LiteralString = ", OPTIONAL"
for _name, _anchor in (
    ("job_copy", _COPY_ANCHOR),
    ("job_search", _SEARCH_ANCHOR),
    ("job_search_backlog", _SEARCH_ANCHOR),
    ("job_search_parts", _PARTS_ANCHOR),
):
    if Q[_name].count(_anchor) != 1:
        raise RuntimeError(f"{_name} must hold its anchor {_anchor!r} exactly once")

_BACKLOG = (JobState.ENQUEUED, JobState.SCHEDULED)
# Disjoint parts of the table, each served by partial indexes of its own (migration 0010):
# the jobs that left the backlog (medley_job_state_idx, medley_job_name_idx), and the
# backlog without and with a limit (medley_job_fetch_free_idx, medley_job_limited_idx).
_LISTED_PART: LiteralString = "state NOT IN ('enqueued', 'scheduled')"
_BACKLOG_PARTS: tuple[LiteralString, ...] = (
    "state IN ('enqueued', 'scheduled') AND limit_name IS NULL",
    "state IN ('enqueued', 'scheduled') AND limit_name IS NOT NULL",
)


def _search_query(
    conditions: Sequence[LiteralString], part: LiteralString | None = None, fenced: bool = False
) -> LiteralString:
    """job_search with `conditions`, within `part` of the table; `fenced` for the backlog
    searched by job name (see job_search_backlog)."""
    where = " AND ".join([*conditions, part] if part else conditions) or _SEARCH_ANCHOR
    return Q["job_search_backlog" if fenced else "job_search"].replace(_SEARCH_ANCHOR, where)


def _union(branches: Sequence[LiteralString]) -> LiteralString:
    """The rows of job_search `branches` (disjoint), newest first, as one job_search."""
    parts = " UNION ALL ".join(f"({branch})" for branch in branches)
    return Q["job_search_parts"].replace(_PARTS_ANCHOR, parts)


def _one_values(p: JobInsertParams) -> Row:
    return {
        "job": p.job,
        "queue": p.queue,
        "priority": p.priority,
        "state": p.state.value,
        "args": p.payload_json[0],
        "kwargs": p.payload_json[1],
        "run_at": p.run_at,
        "max_attempts": p.max_attempts,
        "timeout_seconds": p.timeout_seconds,
        "unique_key": p.unique_key,
        "tags": tags_json(p.tags),
        "meta": meta_json(p.meta),
    }


def _many_values(params: Sequence[JobInsertParams]) -> Row:
    return {
        "job": [p.job for p in params],
        "queue": [p.queue for p in params],
        "priority": [p.priority for p in params],
        "state": [p.state.value for p in params],
        "args": [p.payload_json[0] for p in params],
        "kwargs": [p.payload_json[1] for p in params],
        "run_at": [p.run_at for p in params],
        "max_attempts": [p.max_attempts for p in params],
        "timeout_seconds": [p.timeout_seconds for p in params],
        "unique_key": [p.unique_key for p in params],
        "tags": [tags_json(p.tags) for p in params],
        "meta": [meta_json(p.meta) for p in params],
    }


def _completion_values(worker_id: str, c: Sequence[JobCompletion], resolving: bool) -> Row:
    return {
        "worker_id": worker_id,
        "id": [x.id for x in c],
        "attempt": [x.attempt for x in c],
        "state": [x.state.value for x in c],
        "reason": [x.reason.value for x in c],
        "result": [x.result_json for x in c],
        "error": [json.dumps(x.error) if x.error else None for x in c],
        "run_at": [x.run_at for x in c],
        "progress_fraction": [x.progress_fraction for x in c],
        "progress_message": [x.progress_message for x in c],
        "release": [x.release for x in c],
        "resolving": resolving,
    }


def _bulk_values(params: JobBulkParams) -> Row:
    return {
        "states": [state.value for state in params.states],
        "queue": params.queue,
        "job": params.job,
        "error_type": params.error_type,
        "limit": params.limit,
    }


def _per_queue_and_state(
    params: Sequence[JobInsertParams],
) -> collections.Counter[tuple[str, JobState]]:
    """How many of `params` go to each (queue, state): known before a uniform batch's rows
    are built, since they all share its first row's."""
    if isinstance(params, UniformInserts):
        return collections.Counter({(params.first.queue, params.first.state): len(params)})
    return collections.Counter((p.queue, p.state) for p in params)


def _match_inserted(
    params: Sequence[JobInsertParams], inserted: list[Row], existing: dict[str, Row]
) -> list[JobInsertResult]:
    """Pair input rows with results: ids were drawn in input order, and a row skipped by
    its unique key gets the live job that holds the key."""
    results: list[JobInsertResult] = []
    fresh = iter(inserted)
    taken: set[str] = {r["unique_key"] for r in inserted if r["unique_key"] is not None}
    seen: set[str] = set()
    for p in params:
        key = p.unique_key
        if key is not None and (key in seen or key not in taken):
            holder = existing.get(key)
            if holder is None:  # the holder finished between our insert and lookup
                raise DuplicateJobError(key)
            results.append(JobInsertResult(holder["id"], JobState(holder["state"]), True))
            continue
        if key is not None:
            seen.add(key)
        row = next(fresh)
        results.append(JobInsertResult(row["id"], JobState(row["state"]), False))
    return results
