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


RATE_LIMIT = "it-rate"
starts: list[float] = []
"""Monotonic start times of `rate_tick` runs."""
calls: dict[str, int] = {}
"""How many times each `flaky_api` call ran (the first answers HTTP 429)."""


@medley.job(name="it.rate_tick", limit=RATE_LIMIT)
async def rate_tick() -> None:
    starts.append(time.monotonic())


medley.limit("it-tokens", tokens=1000, per=3600)  # refills too slowly to blur the sums


@medley.job(name="it.token_call", limit="it-tokens", tokens=400)
async def token_call(ctx: medley.JobContext, used: int) -> int:
    ctx.report_usage(tokens=used)
    return used


medley.limit("it-api", max_running=4)


@medley.job(name="it.flaky_api", limit="it-api")
async def flaky_api(ctx: medley.JobContext, name: str, retry_after: float) -> int:
    calls[name] = calls.get(name, 0) + 1
    if retry_after and calls[name] == 1:
        ctx.rate_limited(retry_after)
    return calls[name]
