"""`/api/limits` against a real uvicorn server, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from medley.web.auth.principal import Role
from tests.web.served import Served

pytestmark = pytest.mark.e2e


@pytest.fixture
async def client(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, headers=served.headers(), timeout=10) as c:
        yield c


async def test_an_admin_defines_lists_changes_and_removes_a_limit(
    client: httpx.AsyncClient,
) -> None:
    body = {"max_running": 3, "rate": 60, "tokens": 40_000, "period_seconds": 60}

    created = await client.put("/api/limits/web-llm", json=body)
    changed = await client.put("/api/limits/web-llm", json={"rate": 10, "period_seconds": 1})
    listed = await client.get("/api/limits")
    removed = await client.delete("/api/limits/web-llm")
    gone = await client.delete("/api/limits/web-llm")

    assert created.status_code == 200, created.text
    info = created.json()
    assert (info["max_running"], info["rate"], info["tokens"]) == (3, 60, 40_000)
    assert (info["period_seconds"], info["source"], info["blocked_until"]) == (60, "runtime", None)
    assert (info["starts_used"], info["tokens_used"], info["running"]) == (0, 0, 0)
    assert changed.status_code == 200
    assert (changed.json()["max_running"], changed.json()["rate"]) == (None, 10)
    [listed_limit] = [r for r in listed.json() if r["name"] == "web-llm"]
    assert listed_limit["period_seconds"] == 1
    assert removed.status_code == 204
    assert gone.status_code == 404
    assert gone.json()["code"] == "limit_not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"max_running": -1},
        {"rate": 0},
        {"tokens": 0},
        {"period_seconds": 0},
        {"rate": "fast"},
        {"burst": 3},
    ],
)
async def test_a_malformed_limit_is_a_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.put("/api/limits/web-bad", json=body)

    assert response.status_code == 422, response.text
    assert response.json()["code"]
    assert all(r["name"] != "web-bad" for r in (await client.get("/api/limits")).json())


async def test_limits_need_a_token_and_changes_need_an_admin(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as anonymous:
        assert (await anonymous.get("/api/limits")).status_code == 401
        assert (await anonymous.put("/api/limits/x", json={"rate": 1})).status_code == 401
    headers = served.headers(Role.VIEWER)
    async with httpx.AsyncClient(base_url=served.url, headers=headers, timeout=10) as viewer:
        assert (await viewer.get("/api/limits")).status_code == 200
        put = await viewer.put("/api/limits/x", json={"rate": 1})
        delete = await viewer.delete("/api/limits/x")

    assert (put.status_code, delete.status_code) == (403, 403)
    assert put.json()["code"] == "forbidden"


async def test_the_limits_endpoints_are_in_the_openapi_spec(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as c:
        paths = (await c.get("/openapi.json")).json()["paths"]

    assert "get" in paths["/api/limits"]
    assert {"put", "delete"} <= set(paths["/api/limits/{name}"])
