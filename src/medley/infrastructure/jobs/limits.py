"""Named limits: declarations in code, and what a job's enqueue stores so that the
database can enforce them across every worker.

    medley.limit("llm", max_running=3)           # at most 3 running, cluster-wide
    medley.limit("openai", rate=500, per=60, tokens=40_000)   # 500 starts and 40k tokens
                                                              # a minute, cluster-wide

    @medley.job(limit="llm")
    async def summarize(doc_id: int) -> str: ...

    medley.limit("tenant", max_running=2)        # keyed: at most 2 running per tenant
    @medley.job(limit="tenant", limit_key_arg="tenant_id")
    async def reindex(tenant_id: str) -> None: ...

A rate (`rate` starts per `per`) and a token budget (`tokens` per `per`) are token
buckets refilled continuously (see `storage/limit_records.py`). A job of a limit with a
budget reserves an estimate when it is claimed, from `@medley.job(tokens=500)` (or a
function of the job's arguments, or `JobOptions(limit_tokens=...)` per enqueue), and
`ctx.report_usage(tokens=...)` replaces the reservation with what it used. A job that
gets HTTP 429 calls `ctx.rate_limited(retry_after)`: it snoozes, and no job of its limit
starts anywhere until then.

A job names its limit in its definition; the enqueue stores `{"limit": name,
"limit_key": key, "limit_tokens": estimate}` in the job's `meta`, and the storage
adapters take and give back the slots (and spend the buckets) in the statements that
claim jobs and write their outcomes. Declared limits are
synced to the database when a worker starts (`sync_limits`); `medley limits set` changes
one at run time for every worker, and a later sync never undoes that.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from medley.application.errors import ConfigError
from medley.infrastructure.jobs.registry import DEFAULT_REGISTRY, JobDefinition, JobRegistry
from medley.infrastructure.jobs.storage.limit_records import PERIOD_SECONDS_DEFAULT
from medley.infrastructure.jobs.storage.port import JobStore, LimitParams

log = logging.getLogger("medley.limits")

META_LIMIT = "limit"
META_LIMIT_KEY = "limit_key"
META_LIMIT_TOKENS = "limit_tokens"


@dataclass(frozen=True, slots=True)
class LimitDefinition:
    """A limit declared in code, cluster-wide (per key for a keyed limit): how many of its
    jobs may run at once, start per period and spend tokens per period (None: unbounded)."""

    name: str
    max_running: int | None = None
    rate: int | None = None
    tokens: int | None = None
    period_seconds: float = PERIOD_SECONDS_DEFAULT

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a limit needs a name")
        try:
            self.params()
        except ValueError as exc:
            raise ConfigError(f"limit {self.name!r}: {exc}") from None

    def params(self, source: str = "code") -> LimitParams:
        return LimitParams(
            name=self.name,
            max_running=self.max_running,
            rate=self.rate,
            tokens=self.tokens,
            period_seconds=self.period_seconds,
            source=source,
        )


def limit(
    name: str,
    *,
    max_running: int | None = None,
    rate: int | None = None,
    tokens: int | None = None,
    per: float | timedelta = PERIOD_SECONDS_DEFAULT,
    registry: JobRegistry | None = None,
) -> LimitDefinition:
    """Declare a limit; workers sync it to the database when they start. `rate` starts
    and `tokens` tokens are allowed per `per` (seconds or a timedelta; default a minute),
    refilled continuously; `max_running` caps the jobs running at once."""
    period = per.total_seconds() if isinstance(per, timedelta) else float(per)
    definition = LimitDefinition(name, max_running, rate, tokens, period)
    (registry or DEFAULT_REGISTRY).limits[name] = definition
    return definition


def limit_meta(
    definition: JobDefinition[Any, Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    tokens: int | None = None,
) -> dict[str, Any]:
    """What an enqueue of `definition` stores in `meta` for its limit (nothing without):
    its name, its key and the tokens it reserves when claimed (`tokens` overrides the
    definition's estimate)."""
    if definition.limit is None:
        return {}
    meta: dict[str, Any] = {META_LIMIT: definition.limit}
    if definition.limit_key_arg is not None:
        meta[META_LIMIT_KEY] = _key(definition, args, kwargs)
    estimate = tokens if tokens is not None else _estimate(definition, args, kwargs)
    if estimate:
        meta[META_LIMIT_TOKENS] = estimate
    return meta


def _estimate(
    definition: JobDefinition[Any, Any], args: Sequence[Any], kwargs: dict[str, Any]
) -> int:
    estimate = definition.limit_tokens
    if callable(estimate):
        value = estimate(*args, **kwargs)
        if not isinstance(value, int) or value < 0:
            raise ConfigError(f"job {definition.name!r}: tokens() must return an int >= 0")
        return value
    return estimate or 0


def _key(definition: JobDefinition[Any, Any], args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    name = definition.limit_key_arg
    assert name is not None
    if name in kwargs:
        value = kwargs[name]
    else:
        signature = inspect.signature(definition.func)
        lead = (None,) if definition.takes_context else ()
        bound = signature.bind_partial(*lead, *args)
        bound.apply_defaults()
        value = bound.arguments.get(name, "")
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


async def sync_limits(store: JobStore, registry: JobRegistry) -> int:
    """Write the limits declared in code to the database (as `code` definitions, which
    never replace one set at run time). Returns how many were written."""
    written = 0
    for definition in registry.limits.values():
        if await store.limit_upsert(definition.params()):
            written += 1
        else:
            log.info("limit %r keeps the value set at run time", definition.name)
    undeclared = {d.limit for d in registry if d.limit and d.limit not in registry.limits}
    for name in sorted(undeclared):
        log.debug("limit %r is not declared in code; `medley limits set` defines it", name)
    return written
