"""`GET /api/jobs/{id}/events`: live progress and state until a final state, a current
snapshot first for late or reconnecting subscribers, one shared feed per process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest

from medley.web.events import JobEventHub
from tests.support.wait import wait_for
from tests.web.jobs import gate
from tests.web.served import Served
from tests.web.sse import Event, events

pytestmark = pytest.mark.e2e
TIMEOUT = 15.0


@pytest.fixture
async def client(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, headers=served.headers(), timeout=20) as c:
        yield c


async def _enqueue(client: httpx.AsyncClient, job: str, *args: object) -> int:
    response = await client.post("/api/jobs", json={"job": job, "args": list(args)})
    assert response.status_code == 201, response.text
    job_id: int = response.json()["id"]
    return job_id


async def _collect(client: httpx.AsyncClient, job_id: int, **headers: str) -> list[Event]:
    seen: list[Event] = []
    async with client.stream("GET", f"/api/jobs/{job_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in events(response):
            seen.append(event)
    return seen


async def test_a_stream_shows_progress_and_state_changes_until_the_final_state(
    client: httpx.AsyncClient,
) -> None:
    key = f"sse-{uuid.uuid4()}"
    job_id = await _enqueue(client, "web.gated", key)
    seen: list[Event] = []

    async def follow() -> None:
        async with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
            async for event in events(response):
                seen.append(event)

    task = asyncio.create_task(follow())
    try:
        await wait_for(
            lambda: any(e.data.get("progress", {}).get("fraction") == 0.5 for e in seen),
            timeout=TIMEOUT,
        )
        gate(key).set()
        await asyncio.wait_for(task, TIMEOUT)
    finally:
        gate(key).set()
        task.cancel()

    kinds = [e.kind for e in seen]
    assert kinds[0] == "state"
    assert kinds[-2:] == ["state", "end"]
    assert seen[-2].data["state"] == "succeeded"
    assert seen[-2].data["result"] == key
    assert seen[-1].data == {"id": job_id, "state": "succeeded"}
    halfway = next(e for e in seen if e.data.get("progress", {}).get("fraction") == 0.5)
    assert halfway.data["progress"]["message"] == "halfway"
    assert all(e.id for e in seen if e.kind != "end")


async def test_a_late_subscriber_gets_the_final_state_at_once(
    client: httpx.AsyncClient,
) -> None:
    job_id = await _enqueue(client, "web.add", 20, 22)
    await wait_for(lambda: _is_final(client, job_id), timeout=TIMEOUT)

    seen = await asyncio.wait_for(_collect(client, job_id), TIMEOUT)

    assert [e.kind for e in seen] == ["state", "end"]
    assert seen[0].data["state"] == "succeeded"
    assert seen[0].data["result"] == 42


async def test_last_event_id_skips_the_state_the_client_already_has(
    client: httpx.AsyncClient,
) -> None:
    job_id = await _enqueue(client, "web.add", 1, 2)
    await wait_for(lambda: _is_final(client, job_id), timeout=TIMEOUT)
    first = await _collect(client, job_id)

    again = await _collect(client, job_id, **{"Last-Event-ID": first[0].id or ""})
    stale = await _collect(client, job_id, **{"Last-Event-ID": "0000"})

    assert [e.kind for e in again] == ["end"]
    assert [e.kind for e in stale] == ["state", "end"]


async def test_a_stream_of_a_missing_job_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/jobs/987654321/events")

    assert response.status_code == 404
    assert response.json()["code"] == "job_not_found"


async def test_many_subscribers_share_one_feed(served: Served, client: httpx.AsyncClient) -> None:
    key = f"fan-{uuid.uuid4()}"
    job_id = await _enqueue(client, "web.gated", key)
    hub: JobEventHub = served.app.state.events
    streams = [asyncio.create_task(_collect(client, job_id)) for _ in range(5)]
    try:
        await wait_for(lambda: hub.subscribers == 5, timeout=TIMEOUT)
        if hub.notified:
            assert _listen_connections(served.database_url) == 1
        gate(key).set()
        results = await asyncio.wait_for(asyncio.gather(*streams), TIMEOUT)
    finally:
        gate(key).set()
        for task in streams:
            task.cancel()

    for seen in results:
        assert seen[-1].kind == "end"
        assert seen[-2].data["state"] == "succeeded"
    await wait_for(lambda: hub.subscribers == 0, timeout=TIMEOUT)


def _listen_connections(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query ILIKE 'LISTEN%medley_event%'"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def _is_final(client: httpx.AsyncClient, job_id: int) -> bool:
    state = (await client.get(f"/api/jobs/{job_id}")).json()["state"]
    return state in ("succeeded", "failed", "cancelled")
