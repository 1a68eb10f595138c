"""Rows of the limit queries (the limits themselves live in job_fetch_available,
job_set_state_if_processing and job_rescue, each one statement)."""

from __future__ import annotations

from typing import Any

from medley.infrastructure.jobs.storage.port import LimitRow


def limit_row(r: dict[str, Any]) -> LimitRow:
    return LimitRow(
        name=r["name"],
        max_running=r["max_running"],
        source=r["source"],
        running=int(r["running"]),
        busy_keys=int(r["busy_keys"]),
        updated_at=r["updated_at"],
    )
