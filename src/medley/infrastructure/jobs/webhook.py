"""The built-in webhook notifier: a signed JSON POST per dead job, retried with backoff,
and rate-limited so that a failure storm sends one digest instead of thousands of posts.

Receivers verify `X-Medley-Signature: sha256=<hex HMAC-SHA256 of the raw body>` with the
shared secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from medley.infrastructure.jobs.notifications import FailureEvent
from medley.infrastructure.tasks import cancel_and_wait

log = logging.getLogger("medley.notifications")

DIGEST_SAMPLE = 20
"""A digest carries the count of every event and the first few in full."""


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    secret: str
    digest_seconds: float = 60.0
    """At most one post per this many seconds; events in between go out as one digest."""
    max_attempts: int = 5
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("webhook URL must be http:// or https://")
        if self.digest_seconds < 0 or self.max_attempts < 1:
            raise ValueError("digest_seconds must be >= 0 and max_attempts >= 1")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """Register with `notifications.on_dead(notifier)` (or `on_failure`)."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self._pending: list[FailureEvent] = []
        self._wake = asyncio.Event()
        self._flush = asyncio.Event()
        self._drained = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_sent = float("-inf")
        self.sent = 0

    def __call__(self, event: FailureEvent) -> None:
        self._pending.append(event)
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="medley-webhook")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait = self._last_sent + self.config.digest_seconds - time.monotonic()
            if wait > 0 and not self._flush.is_set():
                with contextlib.suppress(TimeoutError):  # the rate limit; close() cuts it short
                    await asyncio.wait_for(self._flush.wait(), wait)
            batch, self._pending = self._pending, []
            if batch:
                self._last_sent = time.monotonic()
                await self._deliver(self._payload(batch))
            if not self._pending:
                self._drained.set()

    @staticmethod
    def _payload(batch: list[FailureEvent]) -> dict[str, Any]:
        if len(batch) == 1:
            return batch[0].to_json()
        return {
            "event": "digest",
            "count": len(batch),
            "events": [e.to_json() for e in batch[:DIGEST_SAMPLE]],
        }

    async def _deliver(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        delay = 0.5
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                await asyncio.to_thread(self._post, body, str(payload["event"]))
                self.sent += 1
                return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                log.warning("webhook post %d/%d failed: %s", attempt, self.config.max_attempts, exc)
                if attempt < self.config.max_attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
        log.error("webhook gave up after %d attempts", self.config.max_attempts)

    def _post(self, body: bytes, event: str) -> None:
        request = urllib.request.Request(
            self.config.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Medley-Event": event,
                "X-Medley-Signature": sign(self.config.secret, body),
            },
        )
        with urllib.request.urlopen(request, timeout=self.config.timeout_seconds) as response:
            if response.status >= 300:
                raise ValueError(f"webhook answered {response.status}")

    async def close(self, timeout: float = 5.0) -> None:
        """Deliver what is pending (within `timeout`), then stop."""
        if self._task is not None:
            if self._pending:
                self._drained.clear()
                self._flush.set()
                self._wake.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drained.wait(), timeout)
            with contextlib.suppress(Exception):
                await cancel_and_wait(self._task)
