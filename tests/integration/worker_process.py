"""A worker in a process of its own, for the kill -9 test:

    python -m tests.integration.worker_process URL

It serves the jobs of `tests.integration.jobs` with a 0.2 s heartbeat and a 1 s lease,
prints `ready <worker id>` once started, and runs until killed.
"""

from __future__ import annotations

import asyncio
import sys

import tests.integration.jobs  # noqa: F401  (registers the it.* jobs)
from medley.infrastructure.jobs.runtime.server import WorkerServer
from medley.infrastructure.services.connect import open_store
from tests.support.workers import fast_config


async def serve(url: str) -> None:
    store = await open_store(url, auto_migrate=False)
    backend = "postgres" if store.capabilities.listen_notify else "sqlite"
    server = WorkerServer(
        store,
        config=fast_config(backend, heartbeat_seconds=0.2, lease_seconds=1.0, leader_seconds=0.2),
    )
    await server.start()
    print(f"ready {server.worker_id}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop(grace=0)
        await store.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
