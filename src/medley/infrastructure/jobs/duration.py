"""Durations: `timedelta` inside the program, `"10m"`-style strings only at the edges."""

from __future__ import annotations

import re
from datetime import timedelta

from medley.application.errors import ConfigError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(value: str | float | timedelta | None) -> timedelta | None:
    """`"10m"`, `"1.5h"`, `30` (seconds) or a timedelta -> timedelta; None stays None."""
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        if value < 0:
            raise ConfigError(f"invalid duration {value!r}: must not be negative")
        return timedelta(seconds=float(value))
    match = _PATTERN.match(value)
    if match is None:
        raise ConfigError(f"invalid duration {value!r}: expected e.g. 30s, 10m, 1.5h, 2d")
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNITS[unit or "s"])
