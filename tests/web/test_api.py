"""The REST API against a real uvicorn server, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from medley.web.auth.principal import Role
from tests.support.wait import wait_for
from tests.web.jobs import gate
from tests.web.served import Served

pytestmark = pytest.mark.e2e


@pytest.fixture
async def client(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, headers=served.headers(), timeout=10) as c:
        yield c


async def _enqueue(client: httpx.AsyncClient, **body: Any) -> int:
    response = await client.post("/api/jobs", json=body)
    assert response.status_code == 201, response.text
    job_id: int = response.json()["id"]
    return job_id


async def _state_of(client: httpx.AsyncClient, job_id: int) -> str:
    response = await client.get(f"/api/jobs/{job_id}")
    state: str = response.json()["state"]
    return state


async def test_enqueue_returns_201_and_the_job_runs_to_its_result(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/jobs", json={"job": "web.add", "args": [2, 3]})

    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "enqueued"
    await wait_for(lambda: _succeeded(client, body["id"]), timeout=10)
    info = (await client.get(f"/api/jobs/{body['id']}")).json()
    assert info["result"] == 5
    assert info["attempt"] == 1
    assert info["progress"]["fraction"] == 1.0
    assert [h["to_state"] for h in info["history"]] == ["enqueued", "processing", "succeeded"]


async def _succeeded(client: httpx.AsyncClient, job_id: int) -> bool:
    return await _state_of(client, job_id) == "succeeded"


async def test_enqueue_of_an_unknown_job_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/jobs", json={"job": "web.nope"})

    assert response.status_code == 422
    assert response.json()["code"] == "unknown_job"
    assert "web.nope" in response.json()["message"]


async def test_enqueue_with_options_schedules_and_repeats_a_unique_key(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "job": "web.add",
        "args": [1, 1],
        "delay_seconds": 3600,
        "unique_key": "k-1",
        "queue": "later",
        "priority": 5,
        "max_attempts": 2,
        "tags": ["t1"],
    }

    first = await client.post("/api/jobs", json=body)
    again = await client.post("/api/jobs", json=body)

    assert first.status_code == 201
    assert first.json()["state"] == "scheduled"
    assert again.status_code == 200
    assert again.json() == {**first.json(), "existing": True}
    info = (await client.get(f"/api/jobs/{first.json()['id']}")).json()
    assert (info["queue"], info["priority"], info["max_attempts"], info["tags"]) == (
        "later",
        5,
        2,
        ["t1"],
    )


async def test_invalid_bodies_are_422_with_code_and_message(client: httpx.AsyncClient) -> None:
    bodies: list[dict[str, Any]] = [
        {"args": []},
        {"job": "web.add", "max_attempts": 0},
        {"job": "x", "extra": 1},
    ]
    for body in bodies:
        response = await client.post("/api/jobs", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid_request"
        assert response.json()["message"]


async def test_a_missing_job_is_a_404(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/api/jobs/987654321"),
        await client.post("/api/jobs/987654321/cancel"),
        await client.delete("/api/jobs/987654321"),
    ):
        assert response.status_code == 404
        assert response.json() == {"code": "job_not_found", "message": "job 987654321 not found"}


async def test_list_filters_and_pages_with_a_cursor(client: httpx.AsyncClient) -> None:
    ids = [await _enqueue(client, job="web.add", args=[i, i], delay_seconds=3600) for i in range(5)]

    first = (await client.get("/api/jobs", params={"state": "scheduled", "limit": 3})).json()
    rest = (
        await client.get(
            "/api/jobs", params={"state": "scheduled", "limit": 3, "cursor": first["next_cursor"]}
        )
    ).json()

    assert [j["id"] for j in first["items"]] == sorted(ids, reverse=True)[:3]
    assert [j["id"] for j in rest["items"]] == sorted(ids, reverse=True)[3:]
    assert rest["next_cursor"] is None
    none = (await client.get("/api/jobs", params={"state": "failed"})).json()
    assert none == {"items": [], "next_cursor": None}


async def test_cancel_retry_and_delete_follow_the_state_machine(
    client: httpx.AsyncClient,
) -> None:
    job_id = await _enqueue(client, job="web.add", args=[1, 2], delay_seconds=3600)

    cancelled = await client.post(f"/api/jobs/{job_id}/cancel")
    retried = await client.post(f"/api/jobs/{job_id}/retry")
    await wait_for(lambda: _succeeded(client, job_id), timeout=10)
    too_late = await client.post(f"/api/jobs/{job_id}/cancel")
    deleted = await client.delete(f"/api/jobs/{job_id}")

    assert cancelled.json()["state"] == "cancelled"
    assert retried.json()["state"] == "enqueued"
    assert too_late.status_code == 409
    assert too_late.json()["code"] == "invalid_transition"
    assert deleted.status_code == 204
    assert (await client.get(f"/api/jobs/{job_id}")).status_code == 404


async def test_a_failed_job_shows_its_error_and_traceback(client: httpx.AsyncClient) -> None:
    job_id = await _enqueue(client, job="web.fail", args=["boom"])

    await wait_for(lambda: _is(client, job_id, "failed"), timeout=10)

    info = (await client.get(f"/api/jobs/{job_id}")).json()
    assert info["error"]["type"] == "ValueError"
    assert info["error"]["message"] == "boom"
    assert "Traceback" in info["error"]["traceback"]


async def _is(client: httpx.AsyncClient, job_id: int, state: str) -> bool:
    return await _state_of(client, job_id) == state


async def test_requests_without_a_valid_token_are_401(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as anonymous:
        missing = await anonymous.get("/api/stats")
        wrong = await anonymous.get("/api/stats", headers={"Authorization": "Bearer medley_x"})
        basic = await anonymous.get("/api/stats", headers={"Authorization": "Basic Zm9vOmJhcg=="})

    for response in (missing, wrong, basic):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["code"] == "unauthenticated"
    assert "medley tokens create" in missing.json()["message"]


async def test_a_viewer_reads_but_may_not_act(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, headers=served.headers(Role.VIEWER)) as c:
        read = await c.get("/api/jobs")
        act = await c.post("/api/jobs", json={"job": "web.add", "args": [1, 2]})
        pause = await c.post("/api/queues/default/pause")

    assert read.status_code == 200
    for response in (act, pause):
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
        assert "needs admin" in response.json()["message"]


async def test_a_revoked_token_stops_working(served: Served) -> None:
    token_id, token = served.create_token(Role.ADMIN)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=served.url, headers=headers) as c:
        assert (await c.get("/api/stats")).status_code == 200
        assert served.run(lambda store: store.token_revoke(token_id))
        assert (await c.get("/api/stats")).status_code == 401


async def test_stats_queues_and_servers_describe_the_system(client: httpx.AsyncClient) -> None:
    job_id = await _enqueue(client, job="web.add", args=[1, 2])
    await wait_for(lambda: _succeeded(client, job_id), timeout=10)
    await _enqueue(client, job="web.add", args=[1, 2], queue="later", delay_seconds=600)

    stats = (await client.get("/api/stats")).json()
    queues = {q["name"]: q for q in (await client.get("/api/queues")).json()}
    servers = (await client.get("/api/servers")).json()

    assert stats["counts"]["succeeded"] == 1
    assert stats["counts"]["scheduled"] == 1
    assert stats["servers_alive"] == 1
    assert sum(m["succeeded"] for m in stats["throughput"]) == 1
    assert len(stats["throughput"]) == 60
    assert queues["later"]["counts"] == {"scheduled": 1}
    assert queues["later"]["oldest_due_age_seconds"] is None
    assert servers[0]["alive"] is True
    assert servers[0]["concurrency"] == 4


async def test_a_paused_queue_keeps_its_jobs_until_resumed(client: httpx.AsyncClient) -> None:
    paused = await client.post("/api/queues/default/pause")
    job_id = await _enqueue(client, job="web.add", args=[1, 2])

    assert paused.json()["paused"] is True
    await wait_for(lambda: _oldest_due(client, "default"), timeout=5)
    assert await _state_of(client, job_id) == "enqueued"
    resumed = await client.post("/api/queues/default/resume")
    assert resumed.json()["paused"] is False
    await wait_for(lambda: _succeeded(client, job_id), timeout=10)


async def _oldest_due(client: httpx.AsyncClient, name: str) -> bool:
    """The job has been due (and so skipped by fetches) for at least a fifth of a second."""
    queues = {q["name"]: q for q in (await client.get("/api/queues")).json()}
    age = queues[name]["oldest_due_age_seconds"]
    return age is not None and age >= 0.2


async def test_a_processing_job_reports_progress_and_can_be_cancelled(
    client: httpx.AsyncClient,
) -> None:
    key = f"api-cancel-{uuid.uuid4()}"
    job_id = await _enqueue(client, job="web.gated", args=[key])
    try:
        await wait_for(lambda: _progress_is(client, job_id, 0.5), timeout=10)
        response = await client.post(f"/api/jobs/{job_id}/cancel")
        assert response.json()["cancel_requested"] is True
    finally:
        gate(key).set()
    await wait_for(lambda: _is(client, job_id, "cancelled"), timeout=10)


async def _progress_is(client: httpx.AsyncClient, job_id: int, fraction: float) -> bool:
    info = (await client.get(f"/api/jobs/{job_id}")).json()
    return bool(info["progress"]["fraction"] == fraction)


async def test_openapi_describes_every_endpoint_of_the_contract(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as c:
        spec = (await c.get("/openapi.json")).json()

    paths = spec["paths"]
    for path, method in [
        ("/api/jobs", "post"),
        ("/api/jobs", "get"),
        ("/api/jobs/{job_id}", "get"),
        ("/api/jobs/{job_id}", "delete"),
        ("/api/jobs/{job_id}/cancel", "post"),
        ("/api/jobs/{job_id}/retry", "post"),
        ("/api/jobs/{job_id}/events", "get"),
        ("/api/stats", "get"),
        ("/api/queues", "get"),
        ("/api/servers", "get"),
        ("/api/recurring", "get"),
        ("/api/recurring/{name}/trigger", "post"),
    ]:
        assert method in paths[path], (path, method)
    assert not any(p.startswith("/hangfire") for p in paths)
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


async def test_a_continuation_awaits_its_parent(client: httpx.AsyncClient) -> None:
    parent = await _enqueue(client, job="web.add", args=[1, 2], delay_seconds=3600)

    child = await client.post(
        "/api/jobs", json={"job": "web.add", "args": [3, 4], "depends_on": [parent]}
    )

    assert child.status_code == 201
    assert child.json()["state"] == "awaiting"


async def test_a_recurring_job_is_declared_listed_triggered_and_removed_over_http(
    client: httpx.AsyncClient,
) -> None:
    body = {"job": "web.add", "cron": "0 3 * * *", "timezone": "Europe/Berlin", "args": [1, 2]}

    created = await client.put("/api/recurring/nightly-add", json=body)
    bad_cron = await client.put("/api/recurring/broken", json={**body, "cron": "61 * * * *"})
    unknown = await client.put("/api/recurring/ghost", json={**body, "job": "web.nope"})
    listed = await client.get("/api/recurring")
    fired = await client.post("/api/recurring/nightly-add/trigger")
    removed = await client.delete("/api/recurring/nightly-add")
    gone = await client.post("/api/recurring/nightly-add/trigger")

    assert created.status_code == 200, created.text
    assert created.json()["timezone"] == "Europe/Berlin"
    assert bad_cron.status_code == 422
    assert unknown.status_code == 422
    assert "web.nope" in unknown.json()["message"]
    assert [r["name"] for r in listed.json()] == ["nightly-add"]
    assert fired.status_code == 200
    assert await _state_of(client, fired.json()["id"]) in ("enqueued", "processing", "succeeded")
    assert removed.status_code == 204
    assert gone.status_code == 404
