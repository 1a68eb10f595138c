"""`medley migrate`, `medley worker` (and its supervisor), `medley demo`."""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Annotated, Any

import typer

from medley.application.errors import (
    ConfigError,
)
from medley.cli._common import (
    DbUrl,
    Imports,
    _run,
    _settings,
    app,
    console,
)
from medley.config import Settings
from medley.infrastructure.jobs.notifications import DEFAULT_NOTIFICATIONS
from medley.infrastructure.jobs.runtime.main import import_job_modules
from medley.infrastructure.jobs.storage.factory import create_store
from medley.infrastructure.jobs.webhook import WebhookConfig, WebhookNotifier
from medley.infrastructure.logs import configure_logging
from medley.infrastructure.services.connect import open_store


@app.command()
def migrate(database_url: DbUrl = None) -> None:
    """Apply pending schema migrations (a no-op when current)."""
    settings = _settings(database_url=database_url)

    async def go() -> list[int]:
        store = create_store(settings.database_url)
        await store.open()
        try:
            return await store.migration_apply()
        finally:
            await store.close()

    applied = _run(go)
    if applied:
        console.print(f"applied migrations {', '.join(map(str, applied))}")
    else:
        console.print("schema is up to date")


@app.command()
def worker(
    database_url: DbUrl = None,
    imports: Imports = None,
    queues: Annotated[
        str | None,
        typer.Option(
            help="Queues in priority order, each NAME[:SLOTS][@WEIGHT], e.g. ai:4,default:16 "
            "[MEDLEY_QUEUES]"
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(help="Jobs at once per process (default: sum of queue slots, else 10)"),
    ] = None,
    processes: Annotated[int | None, typer.Option(help="Worker processes")] = None,
    queue_mode: Annotated[
        str | None,
        typer.Option(help="strict (queue order) or weighted (by @WEIGHT) [MEDLEY_QUEUE_MODE]"),
    ] = None,
    prefetch: Annotated[
        int | None,
        typer.Option(
            help="Most jobs claimed ahead of a free slot while jobs are short, never more "
            "than start in 50 ms (default 150 for one queue, else the concurrency; 0: off) "
            "[MEDLEY_PREFETCH]"
        ),
    ] = None,
    max_rss_mb: Annotated[
        float | None, typer.Option(help="Stop fetching while RSS is above this (MiB)")
    ] = None,
    min_available_mb: Annotated[
        float | None,
        typer.Option(help="Stop fetching while available memory is below this (MiB)"),
    ] = None,
    max_cpu_percent: Annotated[
        float | None, typer.Option(help="Stop fetching while machine CPU is above this (%)")
    ] = None,
    child_max_jobs: Annotated[
        int | None, typer.Option(help="Replace a cpu_bound job process after N jobs")
    ] = None,
    child_max_rss_mb: Annotated[
        float | None,
        typer.Option(help="Replace a cpu_bound job process above this RSS (MiB), after its job"),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve /metrics and /health/* on this port [MEDLEY_METRICS_PORT]"),
    ] = None,
) -> None:
    """Run jobs until SIGTERM/SIGINT; running jobs get a grace period, the rest go back."""
    settings = _settings(
        database_url=database_url,
        queues=queues,
        concurrency=concurrency,
        processes=processes,
        imports=",".join(imports) if imports else None,
        metrics_port=metrics_port,
        queue_mode=queue_mode,
        prefetch=prefetch,
        max_rss_mb=max_rss_mb,
        min_available_mb=min_available_mb,
        max_cpu_percent=max_cpu_percent,
        child_max_jobs=child_max_jobs,
        child_max_rss_mb=child_max_rss_mb,
    )
    settings.worker_config()  # bad --queues etc. fail here, once, before any process starts
    configure_logging(settings.log_format, settings.log_level)
    if settings.processes > 1:
        raise typer.Exit(_supervise(settings))
    import_job_modules(settings.import_list())
    _run(lambda: _run_worker(settings))
    _exit_past_stuck_threads()


def _supervise(settings: Settings) -> int:
    """`--processes P`: P child workers under a supervisor. With a metrics port, the
    children count into a private multiprocess directory and the supervisor serves the sum."""
    import shutil
    import tempfile

    from medley.infrastructure.observability.metrics import MULTIPROCESS_ENV
    from medley.infrastructure.observability.supervised import SupervisorMetrics

    env = {k: v for k, v in os.environ.items() if k != "MEDLEY_METRICS_PORT"}
    metrics: SupervisorMetrics | None = None
    directory: str | None = None
    if settings.metrics_port is not None:
        directory = tempfile.mkdtemp(prefix="medley-metrics-")
        env[MULTIPROCESS_ENV] = directory
        metrics = SupervisorMetrics(
            settings.database_url,
            settings.metrics_host,
            settings.metrics_port,
            settings.health_config(),
            directory,
        )
        try:
            metrics.start()
        except Exception as exc:
            shutil.rmtree(directory, ignore_errors=True)
            port = settings.metrics_port
            raise ConfigError(f"cannot serve metrics on port {port}: {exc}") from exc
    try:
        return _run_supervisor(settings, env)
    finally:
        if metrics is not None:
            metrics.stop()
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def _run_supervisor(settings: Settings, env: dict[str, str]) -> int:
    from medley.infrastructure.jobs.runtime.supervisor import Supervisor

    child = [
        sys.executable,
        "-m",
        "medley",
        "worker",
        "--processes",
        "1",
        "--database-url",
        settings.database_url,
        "--queues",
        settings.queues,
        "--concurrency",
        str(settings.total_concurrency()),
        "--queue-mode",
        settings.queue_mode,
    ]
    for option in RESOURCE_OPTIONS:
        value = getattr(settings, option)
        if value is not None:
            child += [f"--{option.replace('_', '-')}", str(value)]
    for module in settings.import_list():
        child += ["--import", module]
    supervisor = Supervisor(
        child, settings.processes, stop_timeout=settings.shutdown_grace_seconds + 10, env=env
    )
    return supervisor.run()


RESOURCE_OPTIONS = (
    "prefetch",
    "max_rss_mb",
    "min_available_mb",
    "max_cpu_percent",
    "child_max_jobs",
    "child_max_rss_mb",
)
"""Settings a supervisor passes on to each child as options (each child applies them to
itself: thresholds are per worker process)."""


def _exit_past_stuck_threads() -> None:
    """A sync job still running after the grace period was already released to the queue;
    its thread cannot be interrupted, so don't let interpreter shutdown wait for it."""
    stuck = [t for t in threading.enumerate() if t.name.startswith("medley-job") and t.is_alive()]
    if stuck:
        logging.getLogger("medley.worker").warning(
            "exiting with %d sync jobs still running (already released)", len(stuck)
        )
        logging.shutdown()
        os._exit(0)


async def _run_worker(settings: Settings) -> None:
    from medley.infrastructure.jobs.limits import limit
    from medley.infrastructure.jobs.runtime.main import serve_until_signalled

    for name, spec in settings.limit_map().items():  # MEDLEY_LIMITS, synced at start
        limit(name, **spec.kwargs())
    config = settings.worker_config()
    store = await open_store(
        settings.database_url,
        auto_migrate=settings.auto_migrate,
        pool_max=min(config.concurrency + 4, 20),
    )
    webhook = _webhook(settings)
    observability = await _observability_server(settings, store)
    ai_configured = _configure_ai(settings, store)
    try:
        await serve_until_signalled(store, config)
    finally:
        if ai_configured:
            from medley.infrastructure.ai.runtime import shutdown

            await shutdown()
        if observability is not None:
            await observability.stop()
        if webhook is not None:
            await webhook.close()
        await store.close()


def _configure_ai(settings: Settings, store: Any) -> bool:
    """The AI jobs, if imported, run on the worker's own database and service."""
    if "medley.infrastructure.ai.jobs" not in sys.modules:
        return False
    from medley.infrastructure.ai.runtime import configure_for_worker
    from medley.infrastructure.services.background_job_service import JobService

    return configure_for_worker(settings.database_url, JobService(store, owns_store=False))


async def _observability_server(settings: Settings, store: Any) -> Any:
    """`--metrics-port`: /metrics and /health/* of this worker process, on its own loop."""
    if settings.metrics_port is None:
        return None
    from medley.infrastructure.observability.http import (
        ObservabilityServer,
        observability_routes,
    )
    from medley.infrastructure.observability.metrics import DEFAULT_METRICS, process_collector

    routes = observability_routes(
        store, process_collector(DEFAULT_METRICS), settings.health_config()
    )
    server = ObservabilityServer(settings.metrics_host, settings.metrics_port, routes)
    try:
        await server.start()
    except OSError as exc:
        await store.close()
        raise ConfigError(f"cannot serve metrics on port {settings.metrics_port}: {exc}") from exc
    return server


def _webhook(settings: Settings) -> WebhookNotifier | None:
    if not settings.webhook_url:
        return None
    try:
        config = WebhookConfig(
            url=settings.webhook_url,
            secret=settings.webhook_secret,
            digest_seconds=settings.webhook_digest_seconds,
        )
    except ValueError as exc:
        raise ConfigError(f"invalid webhook settings: {exc}") from exc
    notifier = WebhookNotifier(config)
    if settings.webhook_events == "failure":
        DEFAULT_NOTIFICATIONS.on_failure(notifier)
    else:
        DEFAULT_NOTIFICATIONS.on_dead(notifier)
    return notifier


@app.command()
def demo(
    database_url: DbUrl = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Concurrent jobs in the in-process worker")
    ] = 8,
    serve: Annotated[
        bool, typer.Option("--serve", help="Run the dashboard too, and keep it up afterwards")
    ] = False,
    port: Annotated[
        int | None, typer.Option(help="Dashboard port with --serve [MEDLEY_PORT]")
    ] = None,
) -> None:
    """Run the bundled document pipeline on the embedded SQLite default, with live progress."""
    from medley.demo.run import run_demo

    settings = _settings(database_url=database_url or "sqlite:///./medley-demo.db", port=port)
    configure_logging(settings.log_format, "WARNING")
    _run(lambda: run_demo(settings, console, concurrency=workers, serve=serve))


# --- jobs -------------------------------------------------------------------------------
