"""`medley demo`: a fresh embedded database, an in-process worker on the same event loop,
the bundled documents through the AI fragment pipeline (extract, embed, finalize), live
progress, a summary and the answers to a sample question. `--serve` also runs the
dashboard on the same service, from the start, and keeps it up afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console
from rich.markup import escape

from medley.application.errors import ConfigError, MedleyError
from medley.application.models.jobs import JobState
from medley.config import Settings
from medley.demo.jobs import document_paths
from medley.demo.pipeline import Pipeline, Snapshot
from medley.demo.view import PipelineView, Timing, answers_table, logs_above, summary_table
from medley.infrastructure.ai import runtime as ai
from medley.infrastructure.ai.runtime import AI_QUEUE, AiConfig, AiRuntime
from medley.infrastructure.jobs.runtime.server import WorkerConfig, WorkerServer
from medley.infrastructure.jobs.storage.factory import is_sqlite, sqlite_path
from medley.infrastructure.services.background_job_service import JobService
from medley.infrastructure.services.connect import connect_async

SAMPLE_QUESTION = "Why does high tide come later each day?"
REFRESH_SECONDS = 0.1
"""How often the live view reads the jobs back from the store."""
DEMO_TIMEOUT_SECONDS = 300.0
STOP_GRACE_SECONDS = 2.0
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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


def inference_threads() -> int:
    """The demo is the only worker process, so the model gets a thread per core (two on
    the reference machine); a deployment scales with worker processes instead."""
    return max(1, min(os.cpu_count() or 1, 4))


async def _follow(pipeline: Pipeline, view: PipelineView, timing: Timing) -> Snapshot:
    deadline = time.monotonic() + DEMO_TIMEOUT_SECONDS
    snapshot = await pipeline.refresh()
    while not snapshot.done:
        view.update(snapshot)
        if snapshot.documents_final and timing.documents_seconds is None:
            timing.documents_seconds = time.perf_counter() - timing.started
        if time.monotonic() > deadline:
            raise MedleyError(
                f"the demo did not finish within {DEMO_TIMEOUT_SECONDS:.0f} s; "
                "see `medley jobs list` for the jobs still live"
            )
        await asyncio.sleep(REFRESH_SECONDS)
        snapshot = await pipeline.refresh()
    view.update(snapshot)
    return snapshot


@contextlib.asynccontextmanager
async def _worker(service: JobService, concurrency: int) -> AsyncIterator[WorkerServer]:
    config = WorkerConfig(
        queues=(AI_QUEUE, "default"),
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
        yield server
    finally:
        await server.stop()


async def _run_pipeline(
    service: JobService, rt: AiRuntime, console: Console, documents: list[Path], concurrency: int
) -> tuple[Snapshot, Timing]:
    """The pipeline with an in-process worker on this loop; returns the final snapshot
    and its timing, from the first enqueue."""
    async with _worker(service, concurrency):
        timing = Timing(started=time.perf_counter())
        pipeline = Pipeline(service, rt.repository, documents, SAMPLE_QUESTION)
        await pipeline.start()
        with logs_above(console), PipelineView(console, len(documents)) as view:
            snapshot = await _follow(pipeline, view, timing)
        timing.wall_seconds = time.perf_counter() - timing.started
        return snapshot, timing


async def _dashboard(
    service: JobService, settings: Settings, console: Console
) -> asyncio.Task[None]:
    """The web app on `service` (no second worker), served until Ctrl-C."""
    import uvicorn

    from medley.web.app import create_app

    class DashboardServer(uvicorn.Server):
        """Ctrl-C (or SIGTERM) stops the dashboard and the demo ends normally: uvicorn's
        own handling would re-raise the signal after shutting down (exit 130)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            loop = asyncio.get_running_loop()
            for signum in STOP_SIGNALS:
                loop.add_signal_handler(signum, setattr, self, "should_exit", True)
            try:
                yield
            finally:
                for signum in STOP_SIGNALS:
                    loop.remove_signal_handler(signum)

    app = create_app(settings, service=service, with_worker=False)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False
    )
    server = DashboardServer(config)
    task = asyncio.create_task(server.serve(), name="medley-demo-dashboard")
    while not server.started and not task.done():  # noqa: ASYNC110  # uvicorn has no event
        await asyncio.sleep(0.05)
    if task.done():
        raise ConfigError(f"cannot serve the dashboard on {settings.host}:{settings.port}")
    console.print(f"dashboard: http://{settings.host}:{settings.port}/hangfire (Ctrl-C stops it)")
    return task


async def run_demo(
    settings: Settings, console: Console, *, concurrency: int = 8, serve: bool = False
) -> None:
    """Run the demo on `settings.database_url` (an SQLite file is recreated first).

    Raises `MedleyError` when a demo job failed (after printing the summary), so that the
    command exits non-zero. With `serve`, the dashboard runs from the start and stays up
    after the summary until interrupted.
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
    ai.configure(url, service, AiConfig(inference_threads=inference_threads()))
    try:
        snapshot = await _demo(service, settings, console, concurrency, serve)
    finally:
        await ai.shutdown()
        await service.close()
    failed = len(snapshot.jobs) - snapshot.count(JobState.SUCCEEDED)
    if failed:
        raise MedleyError(f"{failed} demo jobs did not succeed; see `medley jobs list`")


async def _demo(
    service: JobService, settings: Settings, console: Console, concurrency: int, serve: bool
) -> Snapshot:
    rt = await ai.runtime()  # loads the model now, not in the first job
    documents = document_paths()
    console.print(
        f"[bold]Medley demo[/]: {len(documents)} documents through the fragment pipeline "
        f"on {redacted(settings.database_url)} with {concurrency} concurrent jobs; "
        f"embedding model {rt.embedder.name} on {rt.slots.size} inference threads"
    )
    if rt.fallback_reason:
        console.print(f"[yellow]note:[/] {escape(rt.fallback_reason)}")
    dashboard = await _dashboard(service, settings, console) if serve else None
    snapshot, timing = await _run_pipeline(service, rt, console, documents, concurrency)
    console.print(summary_table(snapshot, timing, rt.embedder.name))
    console.print(answers_table(SAMPLE_QUESTION, snapshot.answers()))
    if dashboard is not None:
        async with _worker(service, concurrency):  # jobs retried from the dashboard run
            await dashboard
    return snapshot
