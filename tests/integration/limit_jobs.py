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


# `cpu_bound` twins: they run in a child process, which must carry `report_usage` and
# `rate_limited` back to the worker. A child shares no memory with the test, so the 429
# job keeps its call count in a file.
medley.limit("it-tokens-cpu", tokens=1000, per=3600)
medley.limit("it-api-cpu", max_running=4)


@medley.job(name="it.token_call_cpu", limit="it-tokens-cpu", tokens=400, cpu_bound=True)
def token_call_cpu(ctx: medley.JobContext, used: int, hang: float) -> int:
    ctx.report_usage(tokens=used / 2)
    ctx.report_usage(tokens=used / 2)
    if hang:
        time.sleep(hang)  # killed by its timeout: the usage reported so far still counts
    return used


@medley.job(name="it.flaky_api_cpu", limit="it-api-cpu", cpu_bound=True)
def flaky_api_cpu(ctx: medley.JobContext, counter: str, retry_after: float) -> int:
    from pathlib import Path

    path = Path(counter)
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    if count == 1:
        ctx.rate_limited(retry_after)
    return count


@medley.job(name="it.retry_cpu", cpu_bound=True, max_attempts=3)
def retry_cpu(ctx: medley.JobContext) -> int:
    if ctx.attempt == 1:
        raise medley.Retry(0.2, "try again soon")
    return ctx.attempt


medley.limit("it-tokens-429", tokens=1000, per=3600)


@medley.job(name="it.token_429", limit="it-tokens-429", tokens=400)
async def token_429(ctx: medley.JobContext, name: str, used: int) -> int:
    """Answered 429 on its first call (the API counts no tokens for it), then `used`."""
    calls[name] = calls.get(name, 0) + 1
    if calls[name] == 1:
        ctx.rate_limited(0.2)
    ctx.report_usage(tokens=used)
    return used
