"""SQLite rows -> port rows, and port values -> SQLite values.

SQLite stores times as REAL unix seconds (UTC) and JSON as TEXT; the port speaks aware
datetimes and Python values. The conversion lives here so that the store reads as SQL.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import HistoryRow, JobRow, ServerRow


def to_seconds(value: datetime) -> float:
    """An aware datetime as unix seconds; a naive one is taken as UTC, never local time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def to_datetime(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _maybe_datetime(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _maybe_json(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def job_row(r: sqlite3.Row) -> JobRow:
    return JobRow(
        id=r["id"],
        job=r["job"],
        queue=r["queue"],
        priority=r["priority"],
        state=JobState(r["state"]),
        args=json.loads(r["args"]),
        kwargs=json.loads(r["kwargs"]),
        attempt=r["attempt"],
        max_attempts=r["max_attempts"],
        timeout_seconds=r["timeout_seconds"],
        unique_key=r["unique_key"],
        tags=json.loads(r["tags"]),
        progress_fraction=r["progress_fraction"],
        progress_message=r["progress_message"],
        result=_maybe_json(r["result"]),
        error=_maybe_json(r["error"]),
        lease_owner=r["lease_owner"],
        cancel_requested=bool(r["cancel_requested"]),
        created_at=to_datetime(r["created_at"]),
        run_at=to_datetime(r["run_at"]),
        started_at=_maybe_datetime(r["started_at"]),
        finished_at=_maybe_datetime(r["finished_at"]),
        meta=_maybe_json(r["meta"]) or {},
        batch_id=r["batch_id"],
        depends_on=_maybe_json(r["depends_on"]) or [],
        continue_on=r["continue_on"],
        dependants=r["dependants"],
        batch_pending=bool(r["batch_pending"]),
    )


def history_row(r: sqlite3.Row) -> HistoryRow:
    return HistoryRow(
        job_id=r["job_id"],
        at=to_datetime(r["at"]),
        from_state=JobState(r["from_state"]) if r["from_state"] else None,
        to_state=JobState(r["to_state"]),
        reason=StateChangeReason(r["reason"]),
        attempt=r["attempt"],
        worker=r["worker"],
        error=_maybe_json(r["error"]),
    )


def server_row(r: sqlite3.Row) -> ServerRow:
    return ServerRow(
        id=r["id"],
        hostname=r["hostname"],
        pid=r["pid"],
        queues=json.loads(r["queues"]),
        concurrency=r["concurrency"],
        running=r["running"],
        cpu_percent=r["cpu_percent"],
        rss_bytes=r["rss_bytes"],
        started_at=to_datetime(r["started_at"]),
        heartbeat_at=to_datetime(r["heartbeat_at"]),
        slots=json.loads(r["slots"] or "{}"),
        throttled=bool(r["throttled"]),
        throttle_reason=json.loads(r["info"] or "{}").get("throttle_reason"),
    )
