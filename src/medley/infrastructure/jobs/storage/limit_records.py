"""The values that cross the storage port for named limits (concurrency caps, start rates,
token budgets), kept out of `port.py` to keep that module small; `port` re-exports them.

How the rates work, the same on both backends: each (limit, key) has two token buckets,
one of `rate` starts and one of `tokens` tokens, each refilled continuously over
`period_seconds` (so `rate=60, period=60s` allows a burst of 60 and then one start a
second). A claim takes from them in the statement that claims; a job's reported usage
(`JobCompletion.limit_tokens`) replaces its reservation afterwards.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime

PERIOD_SECONDS_DEFAULT = 60.0
"""The period of a rate or token budget given without one: a minute, as LLM APIs count."""
PERIOD_SECONDS_MAX = 366 * 86400.0
"""The longest period (a year): longer ones overflow the buckets' timestamps."""
INT_MAX = 2**31 - 1
"""The largest `max_running` and `rate` (integer columns)."""
TOKENS_MAX = 2**62
"""The largest token budget (a bigint column, with room for the reservations)."""
LIMIT_WAIT_MIN_SECONDS = 0.005
"""The shortest wait a hint asks for: a rate of thousands a second wakes a worker in
batches, not once per start."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitParams:
    name: str
    max_running: int | None = None
    """Jobs of this limit (per key, for a keyed limit) processing at once, cluster-wide;
    0 holds them all, None caps nothing."""
    rate: int | None = None
    """At most this many starts per `period_seconds` (per key); None: no start rate."""
    tokens: int | None = None
    """Token budget per `period_seconds` (per key), spent by the estimates jobs reserve
    when claimed and corrected by the usage they report; None: no budget."""
    period_seconds: float = PERIOD_SECONDS_DEFAULT
    source: str = "runtime"
    """`code` (synced by workers from `medley.limit` declarations at start) or `runtime`
    (CLI, service API): a `code` upsert never replaces a `runtime` definition."""

    def __post_init__(self) -> None:
        if self.max_running is not None and not 0 <= self.max_running <= INT_MAX:
            raise ValueError(f"max_running must be from 0 to {INT_MAX}")
        if self.rate is not None and not 1 <= self.rate <= INT_MAX:
            raise ValueError(f"rate must be from 1 to {INT_MAX}")
        if self.tokens is not None and not 1 <= self.tokens <= TOKENS_MAX:
            raise ValueError(f"tokens must be from 1 to {TOKENS_MAX}")
        # Also refuses NaN and infinity, which the database would store and every fetch
        # of the limit's jobs would then fail on.
        if not (
            math.isfinite(self.period_seconds) and 0 < self.period_seconds <= PERIOD_SECONDS_MAX
        ):
            raise ValueError("period must be positive and at most 366 days")
        if self.source not in ("code", "runtime"):
            raise ValueError("source is 'code' or 'runtime'")


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitRow:
    name: str
    max_running: int | None
    source: str
    running: int
    """Slots in use now, summed over the keys."""
    busy_keys: int
    """Keys holding at least one slot."""
    updated_at: datetime
    rate: int | None = None
    tokens: int | None = None
    period_seconds: float = PERIOD_SECONDS_DEFAULT
    blocked_until: datetime | None = None
    """No job of the limit starts before this (set by a job that got HTTP 429)."""
    starts_used: float = 0.0
    """Starts not yet refilled in the start buckets, summed over the keys."""
    tokens_used: float = 0.0
    """Tokens (reserved or reported) not yet refilled in the token buckets, summed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitUsageRow:
    name: str
    key: str
    """'' for a limit without key."""
    running: int


class LimitWaits:
    """What the adapters' fetches learned, per queue: when a job held back by a start rate
    or a 429 block may start (see `JobStore.limit_wait_hint`). In memory, per store."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def set(self, queue: str, wait: float | None) -> None:
        if wait is None:
            self._until.pop(queue, None)
        else:
            self._until[queue] = time.monotonic() + max(wait, LIMIT_WAIT_MIN_SECONDS)

    def get(self, queue: str) -> float | None:
        """Seconds left, or None: also once passed, so that a hint no fetch has renewed
        (a queue at its cap is not fetched) never makes a worker wake in a loop."""
        until = self._until.get(queue)
        left = None if until is None else until - time.monotonic()
        return left if left is not None and left > 0 else None
