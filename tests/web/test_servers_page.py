"""Worker resource state over HTTP: slot use per queue and resource throttling (with its
reason) reach `/api/servers` and the dashboard's servers page."""

from __future__ import annotations

import httpx
import pytest

from medley.infrastructure.jobs.storage.port import ServerParams
from tests.support.jobs import utcnow
from tests.web.served import Served

pytestmark = pytest.mark.e2e

THROTTLED = ServerParams(
    id="gpu-box:4242:throttled",
    hostname="gpu-box",
    pid=4242,
    queues=["ai", "default"],
    concurrency=20,
    running=2,
    cpu_percent=12.0,
    rss_bytes=900 * 1024 * 1024,
    started_at=utcnow(),
    slots={"ai": {"busy": 2, "max": 4}, "default": {"busy": 0, "max": 16}},
    throttled=True,
    info={"throttle_reason": "rss 900 MB > 500 MB"},
)


def test_a_throttled_worker_shows_on_the_api_and_the_servers_page(served: Served) -> None:
    served.run(lambda store: store.server_heartbeat(THROTTLED))

    api = httpx.get(f"{served.url}/api/servers", headers=served.headers()).json()
    page = httpx.get(f"{served.url}/hangfire/servers?part=live").text

    [body] = [s for s in api if s["id"] == THROTTLED.id]
    assert body["throttled"] is True
    assert body["throttle_reason"] == "rss 900 MB > 500 MB"
    assert body["slots"] == {"ai": {"busy": 2, "max": 4}, "default": {"busy": 0, "max": 16}}
    assert ">throttled</span>" in page
    assert "rss 900 MB &gt; 500 MB" in page
    assert 'ai <span class="muted">2/4</span>' in page
