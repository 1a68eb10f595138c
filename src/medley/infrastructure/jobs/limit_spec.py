"""Limits written as text, at the edges (CLI options, `MEDLEY_LIMITS`): `60/min`,
`40000/min`, `20/1s`, `100/30s`, and `max:3 rate:60/min tokens:40000/min`.

A limit has one period for its start rate and its token budget; given with different
periods, the budget is scaled to the rate's (`tokens:1000/s` with `rate:60/min` is
60,000 tokens a minute), and refused when that is not a whole number of tokens
(`tokens:100/h` with `rate:10/min`: give both per hour, or per minute).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from medley.application.errors import ConfigError
from medley.infrastructure.jobs.duration import parse_duration
from medley.infrastructure.jobs.storage.limit_records import PERIOD_SECONDS_DEFAULT

_PERIODS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
SCALE_TOLERANCE = 0.001
"""How far a token budget scaled to the rate's period may be from exact (rounding)."""
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\S+)\s*$")


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """A limit's bounds, as `medley.limit(...)` and `limit_set(...)` take them."""

    max_running: int | None = None
    rate: int | None = None
    tokens: int | None = None
    period_seconds: float = PERIOD_SECONDS_DEFAULT

    def kwargs(self) -> dict[str, Any]:
        """As `medley.limit(name, **spec.kwargs())` takes them."""
        return {
            "max_running": self.max_running,
            "rate": self.rate,
            "tokens": self.tokens,
            "per": self.period_seconds,
        }


def parse_rate(text: str, what: str = "rate") -> tuple[int, float]:
    """`"60/min"` -> (60, 60.0); the period is a unit (s, min, h, day) or a duration
    (`30s`, `1m`). Raises `ConfigError` with the expected form, naming `what` was bad."""
    match = _RATE.match(text)
    if match is None:
        raise ConfigError(f"invalid {what} {text!r}: expected COUNT/PERIOD, e.g. 60/min or 20/1s")
    count, period_text = int(match.group(1)), match.group(2).lower()
    period = _PERIODS.get(period_text.rstrip("s") if len(period_text) > 3 else period_text)
    if period is None:
        try:
            duration = parse_duration(period_text)
        except (ConfigError, OverflowError):
            raise ConfigError(
                f"invalid {what} {text!r}: the period is s, min, h, day or a duration like 30s"
            ) from None
        period = duration.total_seconds() if duration else 0.0
    if count < 1 or period <= 0:
        raise ConfigError(f"invalid {what} {text!r}: count and period must be positive")
    return count, period


def limit_spec(
    max_running: int | None = None, rate: str | None = None, tokens: str | None = None
) -> LimitSpec:
    """Combine a cap, a rate and a budget given as text into one `LimitSpec`."""
    if max_running is not None and max_running < 0:
        raise ConfigError("max running must be 0 or more")
    starts = parse_rate(rate) if rate else None
    budget = parse_rate(tokens, "token budget") if tokens else None
    period = starts[1] if starts else budget[1] if budget else PERIOD_SECONDS_DEFAULT
    scaled = None
    if budget is not None:
        exact = budget[0] * period / budget[1]
        scaled = round(exact)
        if scaled < 1 or abs(scaled - exact) > exact * SCALE_TOLERANCE:
            raise ConfigError(
                f"token budget {tokens!r} is {exact:.4g} per {period:g}s, the rate's period: "
                "give the rate and the token budget per the same period"
            )
    return LimitSpec(max_running, starts[0] if starts else None, scaled, period)


def parse_limit_spec(name: str, text: str) -> LimitSpec:
    """One `MEDLEY_LIMITS` entry's value: `3` (max running) or space-separated
    `max:3`, `rate:60/min`, `tokens:40000/min`."""
    text = text.strip()
    if text.isdigit():
        return LimitSpec(max_running=int(text))
    parts: dict[str, str] = {}
    for part in text.split():
        key, sep, value = part.partition(":")
        if not sep or key not in ("max", "rate", "tokens") or key in parts:
            raise ConfigError(
                f"invalid limit {name}={text!r}: expected N or max:N rate:N/PERIOD tokens:N/PERIOD"
            )
        parts[key] = value
    if "max" in parts and not parts["max"].isdigit():
        raise ConfigError(f"invalid limit {name}={text!r}: max must be a whole number")
    max_running = int(parts["max"]) if "max" in parts else None
    try:
        return limit_spec(max_running, parts.get("rate"), parts.get("tokens"))
    except ConfigError as exc:  # which of the MEDLEY_LIMITS entries it was
        raise ConfigError(f"invalid limit {name}={text!r}: {exc}") from None
