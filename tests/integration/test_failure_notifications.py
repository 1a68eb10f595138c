"""Failure notifications: callbacks after the outcome is committed, and the signed,
rate-limited webhook against a real local HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import medley
from medley.infrastructure.jobs.notifications import FailureEvent, FailureNotifications
from medley.infrastructure.jobs.runtime.server import WorkerServer
from medley.infrastructure.jobs.webhook import WebhookConfig, WebhookNotifier
from tests.support.wait import wait_for
from tests.support.workers import fast_config

pytestmark = pytest.mark.integration

SECRET = "s3cret"


@medley.job(
    name="it.notify.always_fails",
    max_attempts=2,
    backoff=lambda _n: timedelta(0),
)
async def always_fails(n: int) -> None:
    raise LookupError(f"item {n} is missing")


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/medley", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def notifications(
    service: medley.JobService, backend_name: str
) -> AsyncIterator[FailureNotifications]:
    hub = FailureNotifications()
    server = WorkerServer(service.store, config=fast_config(backend_name), notifications=hub)
    await server.start()
    service.on_enqueued.append(server.wake)
    try:
        yield hub
    finally:
        service.on_enqueued.remove(server.wake)
        await server.stop(grace=0.5)


async def test_callbacks_hear_every_failed_attempt_and_the_death(
    service: medley.JobService, notifications: FailureNotifications
) -> None:
    failures: list[FailureEvent] = []
    deaths: list[FailureEvent] = []
    notifications.on_failure(failures.append)

    async def record_death(event: FailureEvent) -> None:
        deaths.append(event)

    notifications.on_dead(record_death)
    job_id = await service.enqueue(always_fails, 7)
    info = await service.wait(job_id, timeout=10)
    await wait_for(lambda: len(deaths) == 1, timeout=5)

    assert info.state is medley.JobState.FAILED
    assert [(e.job_id, e.attempt, e.dead) for e in failures] == [
        (job_id, 1, False),
        (job_id, 2, True),
    ]
    death = deaths[0]
    assert (death.job, death.queue) == ("it.notify.always_fails", "default")
    assert death.error["type"] == "LookupError"
    assert death.error["message"] == "item 7 is missing"


async def test_a_failing_callback_does_not_stop_the_worker(
    service: medley.JobService, notifications: FailureNotifications
) -> None:
    def explode(_event: FailureEvent) -> None:
        raise RuntimeError("callback bug")

    notifications.on_dead(explode)
    first = await service.enqueue(always_fails, 1)
    second = await service.enqueue(always_fails, 2)

    for job_id in (first, second):
        assert (await service.wait(job_id, timeout=10)).state is medley.JobState.FAILED


async def test_webhook_posts_a_signed_notification_per_dead_job(
    service: medley.JobService,
    notifications: FailureNotifications,
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = receiver
    webhook = WebhookNotifier(WebhookConfig(url=url, secret=SECRET, digest_seconds=0))
    notifications.on_dead(webhook)
    try:
        job_id = await service.enqueue(always_fails, 3)
        await service.wait(job_id, timeout=10)
        await wait_for(lambda: len(received) == 1, timeout=5)
    finally:
        await webhook.close()

    headers, body = received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Medley-Signature"] == expected
    payload = json.loads(body)
    assert payload["event"] == "job.dead"
    assert payload["job_id"] == job_id
    assert payload["error"]["type"] == "LookupError"
    assert "traceback" not in payload["error"]


async def test_a_failure_storm_becomes_a_digest(
    service: medley.JobService,
    notifications: FailureNotifications,
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = receiver
    webhook = WebhookNotifier(WebhookConfig(url=url, secret=SECRET, digest_seconds=30))
    notifications.on_dead(webhook)
    ids = [await service.enqueue(always_fails, n) for n in range(40)]
    for job_id in ids:
        await service.wait(job_id, timeout=20)
    await webhook.close()

    payloads = [json.loads(body) for _, body in received]
    assert len(payloads) <= 3, "a storm of 40 deaths must not send 40 posts"
    counted = sum(p.get("count", 1) for p in payloads)
    assert counted == 40
    assert any(p["event"] == "digest" for p in payloads)


async def test_webhook_retries_until_the_receiver_answers(
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = receiver
    dead_url = "http://127.0.0.1:1/nowhere"
    webhook = WebhookNotifier(WebhookConfig(url=dead_url, secret=SECRET, max_attempts=2))
    event = FailureEvent(
        job_id=1,
        job="x",
        queue="q",
        attempt=1,
        error={"type": "E", "message": "m"},
        dead=True,
        worker="w",
    )
    webhook(event)
    await webhook.close(timeout=5)
    assert webhook.sent == 0

    working = WebhookNotifier(WebhookConfig(url=url, secret=SECRET, max_attempts=2))
    working(event)
    await wait_for(lambda: working.sent == 1, timeout=5)
    await working.close()
    assert len(received) == 1
