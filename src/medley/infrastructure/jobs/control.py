"""Exceptions a job raises on purpose to steer its own retry (arq's `Retry`)."""

from __future__ import annotations

from datetime import timedelta

from medley.infrastructure.jobs.duration import parse_duration


class Retry(Exception):
    """Fail this attempt and retry after `delay` (default: the backoff policy), spending
    an attempt. With no attempts left the job fails."""

    def __init__(self, delay: str | float | timedelta | None = None, reason: str = "") -> None:
        self.delay = parse_duration(delay)
        super().__init__(reason or "retry requested by the job")


class Snooze(Exception):
    """Come back after `delay` without spending an attempt: the answer to an HTTP 429 or
    a resource that is not ready yet."""

    def __init__(self, delay: str | float | timedelta, reason: str = "") -> None:
        parsed = parse_duration(delay)
        self.delay = parsed if parsed is not None else timedelta(0)
        super().__init__(reason or f"snoozed for {self.delay.total_seconds():g}s")
