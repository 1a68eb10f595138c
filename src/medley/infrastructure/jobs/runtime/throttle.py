"""Resource throttling: a worker stops *fetching* while it (or its machine) is short of
memory or CPU, and fetches again once the pressure is gone.

Running jobs are never interrupted: a worker that is already too big cannot shrink by
killing work it holds a lease on, but it can stop adding more. The decision is re-taken
on every sample, without hysteresis: Python rarely hands freed memory back to the OS, so
a margin below the threshold could keep a worker paused for good.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import psutil

log = logging.getLogger("medley.worker")

MB = 1024 * 1024
SAMPLE_SECONDS_DEFAULT = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrottleConfig:
    """Thresholds beyond which a worker stops fetching; None disables each one."""

    max_rss_mb: float | None = None
    """Stop fetching while this worker process's resident memory is above this (MiB)."""
    min_available_mb: float | None = None
    """Stop fetching while the machine's available memory is below this (MiB)."""
    max_cpu_percent: float | None = None
    """Stop fetching while the machine's CPU use (all cores, 0-100) is above this."""
    sample_seconds: float = SAMPLE_SECONDS_DEFAULT
    """Resources are sampled at most this often; in between the last decision holds.
    Also how soon a throttled worker looks again."""

    def __post_init__(self) -> None:
        for name in ("max_rss_mb", "min_available_mb", "max_cpu_percent"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive")
        if self.sample_seconds <= 0:
            raise ValueError("sample_seconds must be positive")

    @property
    def enabled(self) -> bool:
        return any(
            v is not None for v in (self.max_rss_mb, self.min_available_mb, self.max_cpu_percent)
        )


@dataclass(frozen=True, slots=True)
class ResourceSample:
    rss_bytes: int
    """This worker process's resident memory."""
    available_bytes: int
    """The machine's memory available to new work without swapping."""
    cpu_percent: float
    """The machine's CPU use since the previous sample, 0-100 over all cores."""


class Sampler(Protocol):
    """Reads the resources now; injectable so tests can drive pressure deterministically."""

    def __call__(self) -> ResourceSample: ...


class PsutilSampler:
    """The real machine, through psutil."""

    def __init__(self) -> None:
        self._process = psutil.Process(os.getpid())
        psutil.cpu_percent(None)  # prime: the first reading compares against this call

    def __call__(self) -> ResourceSample:
        return ResourceSample(
            rss_bytes=self._process.memory_info().rss,
            available_bytes=psutil.virtual_memory().available,
            cpu_percent=psutil.cpu_percent(None),
        )


def _unused_sampler() -> ResourceSample:
    raise AssertionError("sampled without thresholds")


def pressure(config: ThrottleConfig, sample: ResourceSample) -> str | None:
    """Why the worker must not fetch under `sample` (e.g. `rss 812 MB > 800 MB`), or None."""
    if config.max_rss_mb is not None and sample.rss_bytes > config.max_rss_mb * MB:
        return f"rss {sample.rss_bytes / MB:.0f} MB > {config.max_rss_mb:g} MB"
    if (
        config.min_available_mb is not None
        and sample.available_bytes < config.min_available_mb * MB
    ):
        available = sample.available_bytes / MB
        return f"available memory {available:.0f} MB < {config.min_available_mb:g} MB"
    if config.max_cpu_percent is not None and sample.cpu_percent > config.max_cpu_percent:
        return f"cpu {sample.cpu_percent:.0f}% > {config.max_cpu_percent:g}%"
    return None


class Throttle:
    """Decides whether the producer may fetch. Cheap to ask often: it samples at most
    once per `sample_seconds`. Transitions are logged (WARNING on, INFO off) and counted
    by the heartbeat, the dashboard and `/metrics` through `reason`."""

    def __init__(
        self,
        config: ThrottleConfig,
        sampler: Sampler | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        if sampler is None:  # no psutil priming in workers without thresholds
            sampler = PsutilSampler() if config.enabled else _unused_sampler
        self._sampler = sampler
        self._clock = clock
        self._next_sample = float("-inf")
        self.reason: str | None = None
        """Why fetching is paused now; None when it is not."""
        self.episodes = 0
        """How many times throttling started (tests and metrics)."""

    @property
    def throttled(self) -> bool:
        return self.reason is not None

    def check(self) -> str | None:
        """Sample if due, update the state, and return why fetching is paused (or None)."""
        if not self.config.enabled:
            return None
        now = self._clock()
        if now < self._next_sample:
            return self.reason
        self._next_sample = now + self.config.sample_seconds
        try:
            sample = self._sampler()
        except Exception as exc:  # psutil can fail (a vanished /proc entry): keep the
            # last decision rather than let the fetch loop die with the worker still alive
            log.warning("could not read resource use (%s); keeping the last decision", exc)
            return self.reason
        reason = pressure(self.config, sample)
        if reason is not None and self.reason is None:
            self.episodes += 1
            log.warning("throttled: %s; not fetching new jobs until it recovers", reason)
        elif reason is None and self.reason is not None:
            log.info("throttling ended (was: %s); fetching again", self.reason)
        self.reason = reason
        return reason
