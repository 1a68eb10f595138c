"""`medley demo`: a fresh embedded database, an in-process worker on the same event loop,
the bundled documents through the pipeline, live progress, a summary and the answers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console

from medley.application.errors import ConfigError, MedleyError
from medley.application.models.jobs import JobState
from medley.config import Settings
from medley.demo.jobs import document_paths
from medley.demo.pipeline import Pipeline, Snapshot
from medley.demo.view import PipelineView, answers_table, logs_above, summary_table
from medley.infrastructure.jobs.runtime.server import WorkerConfig, WorkerServer
from medley.infrastructure.jobs.storage.factory import is_sqlite, sqlite_path
from medley.infrastructure.services.background_job_service import JobService
from medley.infrastructure.services.connect import connect_async

SAMPLE_QUESTION = "Why does high tide come later each day?"
REFRESH_SECONDS = 0.1
"""How often the live view reads the jobs back from the store."""
DEMO_TIMEOUT_SECONDS = 120.0
STOP_GRACE_SECONDS = 2.0
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def redacted(url: str) -> str:
    """`url` with its password (if any) masked, for printing."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def reset_sqlite(path: Path) -> None:
    """Delete the demo database (and its WAL files) so that every run starts fresh."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for candidate in [path, *(path.with_name(path.name + s) for s in SQLITE_SIDE_FILES)]:
        candidate.unlink(missing_ok=True)


async def _follow(pipeline: Pipeline, view: PipelineView) -> Snapshot:
    deadline = time.monotonic() + DEMO_TIMEOUT_SECONDS
    snapshot = await pipeline.refresh()
    while not snapshot.done:
        view.update(snapshot)
        if time.monotonic() > deadline:
            raise MedleyError(
                f"the demo did not finish within {DEMO_TIMEOUT_SECONDS:.0f} s; "
                "see `medley jobs list` for the jobs still live"
            )
        await asyncio.sleep(REFRESH_SECONDS)
        snapshot = await pipeline.refresh()
    view.update(snapshot)
    return snapshot


async def _run_pipeline(
    service: JobService, console: Console, documents: list[Path], concurrency: int
) -> tuple[Snapshot, float]:
    """The pipeline with an in-process worker on this loop; returns the final snapshot
    and the wall time from the first enqueue to the last outcome."""
    config = WorkerConfig(
        concurrency=concurrency,
        poll_seconds=0.05,
        heartbeat_seconds=1,
        lease_seconds=10,
        progress_flush_seconds=0.1,
        shutdown_grace_seconds=STOP_GRACE_SECONDS,
    )
    server = WorkerServer(service.store, service.registry, config)
    service.on_enqueued.append(server.wake)
    service.on_cancel_requested.append(server.producer.request_cancel)
    await server.start()
    try:
        started = time.perf_counter()
        pipeline = Pipeline(service, documents, SAMPLE_QUESTION)
        await pipeline.start()
        with logs_above(console), PipelineView(console, len(documents)) as view:
            snapshot = await _follow(pipeline, view)
        return snapshot, time.perf_counter() - started
    finally:
        await server.stop()


async def run_demo(settings: Settings, console: Console, *, concurrency: int = 8) -> None:
    """Run the demo on `settings.database_url` (an SQLite file is recreated first).

    Raises `MedleyError` when a demo job failed (after printing the summary), so that the
    command exits non-zero.
    """
    if concurrency < 1:
        raise ConfigError(f"--workers must be at least 1, not {concurrency}")
    url = settings.database_url
    if is_sqlite(url):
        reset_sqlite(sqlite_path(url))
    auto_migrate = True if settings.auto_migrate is None else settings.auto_migrate
    service = await connect_async(
        url, auto_migrate=auto_migrate, max_payload_bytes=settings.max_payload_bytes
    )
    documents = document_paths()
    console.print(
        f"[bold]Medley demo[/]: {len(documents)} documents through the fragment pipeline "
        f"on {redacted(url)} with {concurrency} concurrent jobs"
    )
    try:
        snapshot, wall = await _run_pipeline(service, console, documents, concurrency)
    finally:
        await service.close()
    console.print(summary_table(snapshot, wall))
    console.print(answers_table(SAMPLE_QUESTION, snapshot.answers()))
    failed = len(snapshot.jobs) - snapshot.count(JobState.SUCCEEDED)
    if failed:
        raise MedleyError(f"{failed} demo jobs did not succeed; see `medley jobs list`")
