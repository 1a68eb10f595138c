"""Metrics of `medley worker --processes P`: the children count into prometheus-client's
multiprocess files in a private directory, and the supervisor serves their sum (plus the
cluster gauges and health checks) on the one `--metrics-port`, from a thread with its
own event loop and store: the supervisor itself stays a plain, blocking process."""

from __future__ import annotations

import asyncio
import logging
import threading

from medley.infrastructure.jobs.storage.factory import create_store
from medley.infrastructure.observability.health import HealthConfig
from medley.infrastructure.observability.http import ObservabilityServer, observability_routes
from medley.infrastructure.observability.metrics import multiprocess_collector

log = logging.getLogger("medley.metrics")

START_TIMEOUT = 15.0


class SupervisorMetrics:
    """Serves the sum of the children's metrics from `directory` until `stop()`."""

    def __init__(
        self, url: str, host: str, port: int, health: HealthConfig, directory: str
    ) -> None:
        self.url, self.host, self.port = url, host, port
        self.health = health
        self.directory = directory
        self._thread = threading.Thread(target=self._main, name="medley-metrics", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> None:
        """Start serving; raises what went wrong (port in use, bad URL) in the caller."""
        self._thread.start()
        self._ready.wait(START_TIMEOUT)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start(); after a good start, logged
            if self._ready.is_set():
                log.exception("the metrics server stopped")
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        store = create_store(self.url, pool_max=2)
        await store.open()
        events = multiprocess_collector(self.directory)
        server = ObservabilityServer(
            self.host, self.port, observability_routes(store, events, self.health)
        )
        try:
            await server.start()
            self._ready.set()
            await self._stop.wait()
        finally:
            await server.stop()
            await store.close()
