"""Jobs of the concurrency-limit integration tests (`it.limit_*`). They record when they
start and end, in this process, for the test to count what ran at once."""

from __future__ import annotations

import asyncio
import time

import medley

TENANT_MAX = 2
events: list[tuple[str, str, float]] = []
"""(tenant, "start" | "end", monotonic time), in the order they happened."""

medley.limit("it-tenant", max_running=TENANT_MAX)
medley.limit("it-one", max_running=1)


@medley.job(name="it.limit_tenant", limit="it-tenant", limit_key_arg="tenant_id")
async def tenant_work(tenant_id: str, hold: float) -> str:
    events.append((tenant_id, "start", time.monotonic()))
    await asyncio.sleep(hold)
    events.append((tenant_id, "end", time.monotonic()))
    return tenant_id


@medley.job(name="it.limit_one", limit="it-one")
async def one_at_a_time() -> str:
    return "ran"
