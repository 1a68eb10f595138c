"""Named concurrency limits: declarations in code, and what a job's enqueue stores so
that the database can enforce them across every worker.

    medley.limit("llm", max_running=3)           # at most 3 running, cluster-wide

    @medley.job(limit="llm")
    async def summarize(doc_id: int) -> str: ...

    medley.limit("tenant", max_running=2)        # keyed: at most 2 running per tenant
    @medley.job(limit="tenant", limit_key_arg="tenant_id")
    async def reindex(tenant_id: str) -> None: ...

A job names its limit in its definition; the enqueue stores `{"limit": name,
"limit_key": key}` in the job's `meta`, and the storage adapters take and give back the
slots in the statements that claim jobs and write their outcomes. Declared limits are
synced to the database when a worker starts (`sync_limits`); `medley limits set` changes
one at run time for every worker, and a later sync never undoes that.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from medley.application.errors import ConfigError
from medley.infrastructure.jobs.registry import DEFAULT_REGISTRY, JobDefinition, JobRegistry
from medley.infrastructure.jobs.storage.port import JobStore, LimitParams

log = logging.getLogger("medley.limits")

META_LIMIT = "limit"
META_LIMIT_KEY = "limit_key"


@dataclass(frozen=True, slots=True)
class LimitDefinition:
    """A limit declared in code: its name and how many of its jobs may run at once (per
    key for a keyed limit), cluster-wide."""

    name: str
    max_running: int

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a limit needs a name")
        if self.max_running < 0:
            raise ConfigError(f"limit {self.name!r}: max_running must be 0 or more")


def limit(name: str, *, max_running: int, registry: JobRegistry | None = None) -> LimitDefinition:
    """Declare a concurrency limit; workers sync it to the database when they start."""
    definition = LimitDefinition(name, max_running)
    (registry or DEFAULT_REGISTRY).limits[name] = definition
    return definition


def limit_meta(
    definition: JobDefinition[Any, Any], args: Sequence[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """What an enqueue of `definition` stores in `meta` for its limit (nothing without)."""
    if definition.limit is None:
        return {}
    meta: dict[str, Any] = {META_LIMIT: definition.limit}
    if definition.limit_key_arg is not None:
        meta[META_LIMIT_KEY] = _key(definition, args, kwargs)
    return meta


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
        params = LimitParams(
            name=definition.name, max_running=definition.max_running, source="code"
        )
        if await store.limit_upsert(params):
            written += 1
        else:
            log.info("limit %r keeps the value set at run time", definition.name)
    undeclared = {d.limit for d in registry if d.limit and d.limit not in registry.limits}
    for name in sorted(undeclared):
        log.debug("limit %r is not declared in code; `medley limits set` defines it", name)
    return written
