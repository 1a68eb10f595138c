"""`/api/batches/{id}`: a batch's progress read once and streamed until it finishes."""

from __future__ import annotations

import httpx
import pytest

import medley
from medley.application.models.workflows import BatchRequest
from tests.web.served import Served
from tests.web.sse import events

pytestmark = pytest.mark.e2e


async def test_batch_progress_is_readable_and_streamed_until_finished(served: Served) -> None:
    service = await medley.connect_async(served.database_url)
    try:
        batch = await service.submit_batch(
            BatchRequest(
                jobs=tuple(medley.EnqueueRequest(job="web.add", args=(i, 1)) for i in range(5))
            )
        )
    finally:
        await service.close()

    async with httpx.AsyncClient(base_url=served.url, headers=served.headers(), timeout=20) as c:
        seen = []
        async with c.stream("GET", f"/api/batches/{batch.id}/events") as response:
            assert response.status_code == 200
            async for event in events(response):
                seen.append(event)
        snapshot = await c.get(f"/api/batches/{batch.id}")
        missing = await c.get("/api/batches/999999")
        async with httpx.AsyncClient(base_url=served.url, timeout=20) as nobody:
            anonymous = await nobody.get(f"/api/batches/{batch.id}")

    assert seen[-1].kind == "end"
    final = seen[-1].data
    assert (final["total"], final["succeeded"], final["failed"]) == (5, 5, 0)
    assert snapshot.status_code == 200
    assert snapshot.json()["finished_at"] is not None
    assert missing.status_code == 404
    assert missing.json()["code"] == "batch_not_found"
    assert anonymous.status_code == 401
