"""Run one worker process until SIGTERM/SIGINT, then stop gracefully."""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal

from medley.application.errors import ConfigError
from medley.infrastructure.jobs.registry import JobRegistry
from medley.infrastructure.jobs.runtime.server import WorkerConfig, WorkerServer
from medley.infrastructure.jobs.storage.port import JobStore

log = logging.getLogger("medley.worker")


def import_job_modules(modules: list[str]) -> None:
    """Import the modules that declare jobs (`--import` / MEDLEY_IMPORTS)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"cannot import job module {name!r}: {exc}") from exc


async def serve_until_signalled(
    store: JobStore, config: WorkerConfig, registry: JobRegistry | None = None
) -> None:
    """Start a WorkerServer, wait for a stop signal, stop it within the grace period."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = WorkerServer(store, registry, config)
    await server.start()
    try:
        await stop.wait()
        log.info(
            "stop requested: finishing running jobs (grace %gs)", config.shutdown_grace_seconds
        )
    finally:
        await server.stop()
