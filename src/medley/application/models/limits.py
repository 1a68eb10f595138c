"""Resource management read models: named limits as the service reports them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class LimitInfo(BaseModel):
    """A named limit, cluster-wide (per key for a keyed limit): at most `max_running` of
    its jobs processing at once, `rate` starts and `tokens` tokens per `period_seconds`
    (each None when unbounded), and what is in use now."""

    model_config = ConfigDict(frozen=True)

    name: str
    max_running: int | None
    running: int
    """Slots in use now, summed over the keys."""
    busy_keys: int
    """Keys holding at least one slot ('' is the key of a limit without keys)."""
    source: str
    """`code` (declared with `medley.limit`, synced by workers) or `runtime` (set through
    the CLI or the service, and then kept over code declarations)."""
    updated_at: datetime
    rate: int | None = None
    """Starts allowed per period (a bucket refilled continuously; the burst is `rate`)."""
    tokens: int | None = None
    """Token budget per period, spent by jobs' reservations and corrected by their
    reported usage."""
    period_seconds: float = 60.0
    starts_used: float = 0.0
    """Starts of the last period not yet refilled, summed over the keys."""
    tokens_used: float = 0.0
    """Tokens of the last period not yet refilled, summed over the keys."""
    blocked_until: datetime | None = None
    """While in the future, no job of the limit starts (an API answered HTTP 429)."""
