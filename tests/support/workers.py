"""Worker-runtime helpers for integration tests: test-sized `WorkerConfig`s and the type
of the `start_worker` fixture."""

from __future__ import annotations

from typing import Any, Protocol

import medley
from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.runtime.server import WorkerConfig, WorkerServer
from tests.support.wait import wait_for


def fast_config(backend: str, **overrides: Any) -> WorkerConfig:
    """A `WorkerConfig` with test-sized intervals; `overrides` win. SQLite cannot notify
    workers, so it polls often."""
    values: dict[str, Any] = {
        "concurrency": 20,
        "poll_seconds": 0.05 if backend == "sqlite" else 0.1,
        "heartbeat_seconds": 1.0,
        "lease_seconds": 5.0,
        "progress_flush_seconds": 0.05,
        "shutdown_grace_seconds": 0.5,
    }
    values.update(overrides)
    return WorkerConfig(**values)


class StartWorker(Protocol):
    """`await start_worker(**config_overrides)` -> a started `WorkerServer`."""

    async def __call__(self, **config: Any) -> WorkerServer: ...


async def wait_processing(service: medley.JobService, job_id: int, timeout: float = 5.0) -> None:
    """Wait until a worker has claimed job `job_id` (it is processing)."""

    async def processing() -> bool:
        return (await service.get(job_id)).state is JobState.PROCESSING

    await wait_for(processing, timeout=timeout, message=f"job {job_id} processing")
