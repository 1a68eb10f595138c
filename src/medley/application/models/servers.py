"""Worker read models: what each worker process reports in its heartbeat."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class QueueSlots(BaseModel):
    """Running jobs of one queue in one worker process, against its cap."""

    model_config = ConfigDict(frozen=True)

    busy: int
    max: int
    """The queue's own cap (`--queues ai:4`), or the worker's total when it has none."""


class ServerInfo(BaseModel):
    """One worker process as of its last heartbeat."""

    model_config = ConfigDict(frozen=True)

    id: str
    hostname: str
    pid: int
    queues: list[str]
    concurrency: int
    running: int
    cpu_percent: float
    """This process's CPU use (100 = one core)."""
    rss_bytes: int
    slots: dict[str, QueueSlots] = Field(default_factory=dict)
    throttled: bool = False
    """Fetching is paused because memory or CPU crossed a threshold; running jobs go on."""
    throttle_reason: str | None = None
    """Which threshold, e.g. `rss 812 MB > 800 MB`."""
    started_at: datetime
    heartbeat_at: datetime
