"""A real uvicorn server on a free loopback port, in the test's own event loop, so that the
app can use the test's service and store (whose connections belong to this loop)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

from tests.support.wait import wait_for


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """`async with serve(app) as url:` -> `http://127.0.0.1:<port>` until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    # The test's signals stay the test's: uvicorn would take SIGINT/SIGTERM while serving.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    try:
        await wait_for(lambda: server.started or task.done(), timeout=10)
        if task.done():
            task.result()  # raises what stopped it
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
