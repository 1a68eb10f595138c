"""Global concurrency limits on SQLite, on the store's thread, inside the transaction of
the write they belong to (the claim, the outcome, the rescue). SQLite has one writer at a
time (BEGIN IMMEDIATE), so reading the usage and then changing it is race-free here,
where PostgreSQL needs row locks."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from typing import Any

from medley.infrastructure.jobs.storage.port import LimitRow
from medley.infrastructure.jobs.storage.sqlite._rows import to_datetime
from medley.infrastructure.jobs.storage.sqlite._sql import run


def fetch(conn: sqlite3.Connection, values: dict[str, Any]) -> list[sqlite3.Row]:
    """Claim a batch (job_fetch_available) letting in only the limited jobs that were
    granted a slot, then take their slots."""
    granted = run(conn, "limit_fetch_grantable", values)
    rows = run(
        conn, "job_fetch_available", {**values, "limited": json.dumps([r["id"] for r in granted])}
    )
    if granted:
        _change(conn, "limit_take", rows)
    return rows


def release(conn: sqlite3.Connection, rows: Iterable[sqlite3.Row]) -> None:
    """Give back the slots of jobs that just left `processing`."""
    _change(conn, "limit_release", rows)


def _change(conn: sqlite3.Connection, name: str, rows: Iterable[sqlite3.Row]) -> None:
    counts = Counter((r["limit_name"], r["limit_key"]) for r in rows if r["limit_name"] is not None)
    for (limit, key), n in sorted(counts.items()):
        run(conn, name, {"name": limit, "key": key, "n": n})


def limit_row(r: sqlite3.Row) -> LimitRow:
    return LimitRow(
        name=r["name"],
        max_running=r["max_running"],
        source=r["source"],
        running=int(r["running"]),
        busy_keys=int(r["busy_keys"]),
        updated_at=to_datetime(r["updated_at"]),
    )
