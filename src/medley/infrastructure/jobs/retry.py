"""Retry backoff. Pure, so that tests can pin the randomness."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta


def hangfire_backoff(attempt: int, rand: Callable[[int, int], int] = random.randint) -> timedelta:
    """Hangfire's delay before retry number `attempt` (1-based):
    `(attempt-1)^4 + 15 + rand(0..29) * attempt` seconds. About 15 s, 31 s, 1.5 min, ...,
    and about 1.8 hours before the 10th attempt: long enough to ride out an outage."""
    n = max(attempt, 1)
    return timedelta(seconds=(n - 1) ** 4 + 15 + rand(0, 29) * n)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Decides the delay before the next attempt."""

    backoff: Callable[[int], timedelta] = field(default=hangfire_backoff)

    def delay_for(self, attempt: int) -> timedelta:
        return self.backoff(attempt)
