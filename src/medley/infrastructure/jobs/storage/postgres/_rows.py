"""PostgreSQL rows -> port rows. psycopg already decodes jsonb and timestamptz."""

from __future__ import annotations

from typing import Any

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.port import HistoryRow, JobRow, ServerRow


def job_row(r: dict[str, Any]) -> JobRow:
    return JobRow(
        id=r["id"],
        job=r["job"],
        queue=r["queue"],
        priority=r["priority"],
        state=JobState(r["state"]),
        args=r["args"],
        kwargs=r["kwargs"],
        attempt=r["attempt"],
        max_attempts=r["max_attempts"],
        timeout_seconds=r["timeout_seconds"],
        unique_key=r["unique_key"],
        tags=r["tags"],
        progress_fraction=r["progress_fraction"],
        progress_message=r["progress_message"],
        result=r["result"],
        error=r["error"],
        lease_owner=r["lease_owner"],
        cancel_requested=r["cancel_requested"],
        created_at=r["created_at"],
        run_at=r["run_at"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
        meta=r.get("meta") or {},
        batch_id=r.get("batch_id"),
        depends_on=r.get("depends_on") or [],
        continue_on=r.get("continue_on"),
        dependants=r.get("dependants") or 0,
        batch_pending=bool(r.get("batch_pending")),
    )


def history_row(r: dict[str, Any]) -> HistoryRow:
    return HistoryRow(
        job_id=r["job_id"],
        at=r["at"],
        from_state=JobState(r["from_state"]) if r["from_state"] else None,
        to_state=JobState(r["to_state"]),
        reason=StateChangeReason(r["reason"]),
        attempt=r["attempt"],
        worker=r["worker"],
        error=r["error"],
    )


def server_row(r: dict[str, Any]) -> ServerRow:
    return ServerRow(
        id=r["id"],
        hostname=r["hostname"],
        pid=r["pid"],
        queues=r["queues"],
        concurrency=r["concurrency"],
        running=r["running"],
        cpu_percent=r["cpu_percent"],
        rss_bytes=r["rss_bytes"],
        started_at=r["started_at"],
        heartbeat_at=r["heartbeat_at"],
        slots=r.get("slots") or {},
        throttled=bool(r.get("throttled")),
        throttle_reason=(r.get("info") or {}).get("throttle_reason"),
    )
