"""One id follows a web request into its background work.

`RequestIdMiddleware` takes the caller's `X-Request-ID` (when it is a sane token) or makes
one, serves the request under it (log records carry `request_id`, and every job enqueued
while serving stores it in its metadata, so the job's own log records carry it again in
the worker), and returns it in the response's `X-Request-ID`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medley.infrastructure.observability.context import request_scope
from medley.infrastructure.observability.logfilter import install_log_context

HEADER = "x-request-id"


class RequestIdMiddleware:
    """Pure ASGI (no buffering of streamed responses such as the SSE event stream)."""

    def __init__(self, app: ASGIApp, header: str = HEADER) -> None:
        self.app = app
        self.header = header.lower().encode("latin-1")
        install_log_context()  # the host's handlers gain request_id and the job fields

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == self.header), None)
        with request_scope(given.decode("latin-1") if given else None) as request_id:

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = [(k, v) for k, v in message.get("headers", []) if k != self.header]
                    headers.append((self.header, request_id.encode("latin-1")))
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, send_with_id)
