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


async def test_the_dashboard_shows_a_batch_and_links_it_from_its_jobs(served: Served) -> None:
    service = await medley.connect_async(served.database_url)
    try:
        batch = await service.submit_batch(
            BatchRequest(
                jobs=(medley.EnqueueRequest(job="web.add", args=(1, 2)),),
                description="nightly <b>import</b>",
            )
        )
        await service.wait_batch(batch.id, timeout=15)
    finally:
        await service.close()

    async with httpx.AsyncClient(base_url=served.url, timeout=20) as c:
        page = await c.get(f"/hangfire/batches/{batch.id}")
        live = await c.get(f"/hangfire/batches/{batch.id}?part=live")
        job_page = await c.get(f"/hangfire/jobs/{batch.jobs[0].id}")
        missing = await c.get("/hangfire/batches/999999")

    assert page.status_code == 200
    assert "1 of 1 done" in page.text
    assert "nightly &lt;b&gt;import&lt;/b&gt;" in page.text
    assert "<h1>" not in live.text
    assert "1 of 1 done" in live.text
    assert f'/batches/{batch.id}"' in job_page.text
    assert missing.status_code == 404
