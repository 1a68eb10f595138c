from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from medley.infrastructure.jobs.storage.port import JobStore, ServerParams
from tests.support.jobs import assert_same_instant, utcnow
from tests.support.wait import wait_for

pytestmark = pytest.mark.contract


def server(server_id: str = "host-1:100:abc", **overrides: Any) -> ServerParams:
    values: dict[str, Any] = {
        "id": server_id,
        "hostname": "host-1",
        "pid": 100,
        "queues": ["default", "ai"],
        "concurrency": 8,
        "running": 0,
        "cpu_percent": 1.5,
        "rss_bytes": 50_000_000,
        "started_at": utcnow() - timedelta(minutes=1),
        "info": {"version": "test"},
    }
    values.update(overrides)
    return ServerParams(**values)


async def test_heartbeat_registers_a_server(store: JobStore) -> None:
    params = server()
    before = utcnow()

    await store.server_heartbeat(params)

    [row] = await store.server_list()
    assert row.id == params.id
    assert row.hostname == "host-1"
    assert row.pid == 100
    assert row.queues == ["default", "ai"]
    assert row.concurrency == 8
    assert row.running == 0
    assert row.cpu_percent == 1.5
    assert row.rss_bytes == 50_000_000
    assert_same_instant(row.started_at, params.started_at)
    assert row.heartbeat_at >= before - timedelta(seconds=5)


async def test_heartbeat_of_a_known_server_updates_it_in_place(store: JobStore) -> None:
    await store.server_heartbeat(server(running=0, cpu_percent=1.0))
    [first] = await store.server_list()

    await store.server_heartbeat(server(running=5, cpu_percent=80.0, rss_bytes=1))

    [row] = await store.server_list()
    assert (row.running, row.cpu_percent, row.rss_bytes) == (5, 80.0, 1)
    assert row.heartbeat_at >= first.heartbeat_at
    assert row.started_at == first.started_at


async def test_server_list_returns_every_server(store: JobStore) -> None:
    await store.server_heartbeat(server("b"))
    await store.server_heartbeat(server("a"))

    assert sorted(row.id for row in await store.server_list()) == ["a", "b"]


async def test_server_delete_forgets_only_that_server(store: JobStore) -> None:
    await store.server_heartbeat(server("a"))
    await store.server_heartbeat(server("b"))

    await store.server_delete("a")
    await store.server_delete("never-registered")

    assert [row.id for row in await store.server_list()] == ["b"]


async def test_server_prune_keeps_servers_that_heartbeat_recently(store: JobStore) -> None:
    await store.server_heartbeat(server("a"))

    assert await store.server_prune(3600.0) == 0
    assert [row.id for row in await store.server_list()] == ["a"]


async def test_server_prune_forgets_servers_silent_for_longer_than_the_limit(
    store: JobStore,
) -> None:
    await store.server_heartbeat(server("a"))
    pruned = 0

    async def silent_server_pruned() -> bool:
        nonlocal pruned
        pruned += await store.server_prune(0.0)
        return pruned > 0

    await wait_for(silent_server_pruned)

    assert pruned == 1
    assert await store.server_list() == []


async def test_heartbeat_stores_slot_use_and_throttling_with_its_reason(
    store: JobStore,
) -> None:
    slots = {"ai": {"busy": 2, "max": 4}, "default": {"busy": 0, "max": 16}}
    await store.server_heartbeat(
        server(slots=slots, throttled=True, info={"throttle_reason": "rss 900 MB > 500 MB"})
    )

    [row] = await store.server_list()
    assert row.slots == slots
    assert row.throttled is True
    assert row.throttle_reason == "rss 900 MB > 500 MB"

    await store.server_heartbeat(server(slots={"ai": {"busy": 0, "max": 4}}))

    [row] = await store.server_list()
    assert row.slots == {"ai": {"busy": 0, "max": 4}}
    assert (row.throttled, row.throttle_reason) == (False, None)
