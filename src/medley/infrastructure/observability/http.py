"""A minimal HTTP endpoint for worker processes (`medley worker --metrics-port`):
`/metrics`, `/health/live` and `/health/ready`, served on the worker's own event loop.

Workers have no web framework and need none for three GET routes; this keeps them free
of a server's threads and signal handling, which would fight the worker's own graceful
shutdown. One request per connection, bounded reads, and a timeout per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus

from prometheus_client.registry import Collector

from medley.application.models.observability import HealthReport
from medley.infrastructure.jobs.storage.port import JobStore
from medley.infrastructure.observability.health import (
    HealthConfig,
    check_readiness,
    liveness,
)
from medley.infrastructure.observability.metrics import CONTENT_TYPE, render

log = logging.getLogger("medley.metrics")

REQUEST_TIMEOUT = 10.0
HEADER_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    content_type: str
    body: bytes


Route = Callable[[], Awaitable[Response]]


def health_response(report: HealthReport) -> Response:
    return Response(
        200 if report.ok else 503, "application/json", report.model_dump_json().encode()
    )


def observability_routes(
    store: JobStore, events: Collector, health: HealthConfig
) -> dict[str, Route]:
    """`/metrics` (`events`: this process's, or the multiprocess sum; plus the cluster
    gauges) and the health checks, over `store`."""

    async def metrics_route() -> Response:
        body = await render(store, events, lease_seconds=health.lease_seconds)
        return Response(200, CONTENT_TYPE, body)

    async def live() -> Response:
        return health_response(liveness())

    async def ready() -> Response:
        return health_response(await check_readiness(store, health))

    return {"/metrics": metrics_route, "/health/live": live, "/health/ready": ready}


class ObservabilityServer:
    """Serves `routes` (path -> handler) over HTTP/1.1 on `host:port` (0: any free port)."""

    def __init__(self, host: str, port: int, routes: Mapping[str, Route]) -> None:
        self.host = host
        self.requested_port = port
        self.routes = dict(routes)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if self._server is None or not self._server.sockets:
            return self.requested_port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.requested_port, limit=HEADER_LIMIT
        )
        log.info("metrics and health on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            response = await asyncio.wait_for(self._respond(reader), REQUEST_TIMEOUT)
            status = HTTPStatus(response.status)
            head = (
                f"HTTP/1.1 {status.value} {status.phrase}\r\n"
                f"Content-Type: {response.content_type}\r\n"
                f"Content-Length: {len(response.body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + response.body)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # a client that went away or spoke nonsense gets nothing more
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _respond(self, reader: asyncio.StreamReader) -> Response:
        request_line = (await reader.readline()).decode("latin-1").split()
        while (await reader.readline()).strip():  # headers: not needed
            pass
        if len(request_line) != 3:
            return Response(400, "text/plain", b"bad request\n")
        method, target, _ = request_line
        route = self.routes.get(target.split("?", 1)[0])
        if route is None:
            return Response(404, "text/plain", b"not found\n")
        if method != "GET":
            return Response(405, "text/plain", b"method not allowed\n")
        try:
            return await route()
        except Exception:  # a failing scrape must not take the worker down
            log.exception("serving %s failed", target)
            return Response(500, "text/plain", b"internal error\n")
