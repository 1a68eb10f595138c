"""The `medley` command. Thin: parse options -> Settings -> call a service. Bad input exits
non-zero with one line on stderr, never a traceback."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from medley.application.errors import (
    ConfigError,
    DuplicateJobError,
    InvalidArgumentsError,
    InvalidTransitionError,
    JobNotFoundError,
    MedleyError,
    UnknownJobError,
)
from medley.application.models.jobs import (
    BulkSelection,
    EnqueueRequest,
    JobFilter,
    JobOptions,
    JobState,
)
from medley.config import Settings
from medley.infrastructure.jobs.duration import parse_duration
from medley.infrastructure.jobs.notifications import DEFAULT_NOTIFICATIONS
from medley.infrastructure.jobs.runtime.main import import_job_modules
from medley.infrastructure.jobs.storage.factory import create_store
from medley.infrastructure.jobs.webhook import WebhookConfig, WebhookNotifier
from medley.infrastructure.logs import configure_logging
from medley.infrastructure.services.background_job_service import JobService
from medley.infrastructure.services.connect import connect_async, open_store

T = TypeVar("T")

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Medley background jobs.",
)
jobs_app = typer.Typer(no_args_is_help=True, help="Inspect and control jobs.")
app.add_typer(jobs_app, name="jobs")
console = Console()
err = Console(stderr=True)

DbUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="postgresql://... or sqlite:///path.db [MEDLEY_DATABASE_URL]"
    ),
]
Imports = Annotated[
    list[str] | None,
    typer.Option("--import", help="Module declaring jobs (repeatable) [MEDLEY_IMPORTS]"),
]


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting {where}: {first['msg']}") from exc


def _fail(message: str, code: int) -> None:
    one_line = " ".join(message.split())
    err.print(f"[bold red]error:[/] {escape(one_line)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def _run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    async def runner() -> T:
        return await coro_fn()

    return asyncio.run(runner())


async def _with_service(settings: Settings, action: Callable[[JobService], Awaitable[T]]) -> T:
    import_job_modules(settings.import_list())
    service = await connect_async(
        settings.database_url,
        max_payload_bytes=settings.max_payload_bytes,
        auto_migrate=settings.auto_migrate,
    )
    try:
        return await action(service)
    finally:
        await service.close()


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
        str | None, typer.Option(help="Queues in priority order [MEDLEY_QUEUES]")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Jobs at once per process")] = None,
    processes: Annotated[int | None, typer.Option(help="Worker processes")] = None,
) -> None:
    """Run jobs until SIGTERM/SIGINT; running jobs get a grace period, the rest go back."""
    settings = _settings(
        database_url=database_url,
        queues=queues,
        concurrency=concurrency,
        processes=processes,
        imports=",".join(imports) if imports else None,
    )
    configure_logging(settings.log_format, settings.log_level)
    if settings.processes > 1:
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
            str(settings.concurrency),
        ]
        for module in settings.import_list():
            child += ["--import", module]
        supervisor = Supervisor(
            child, settings.processes, stop_timeout=settings.shutdown_grace_seconds + 10
        )
        raise typer.Exit(supervisor.run())
    import_job_modules(settings.import_list())
    _run(lambda: _run_worker(settings))
    _exit_past_stuck_threads()


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
    from medley.infrastructure.jobs.runtime.main import serve_until_signalled
    from medley.infrastructure.jobs.runtime.server import WorkerConfig
    from medley.infrastructure.jobs.storage.factory import is_sqlite

    store = await open_store(
        settings.database_url,
        auto_migrate=settings.auto_migrate,
        pool_max=min(settings.concurrency + 4, 20),
    )
    poll = settings.poll_seconds or (0.2 if is_sqlite(settings.database_url) else 5.0)
    config = WorkerConfig(
        queues=settings.queue_list(),
        concurrency=settings.concurrency,
        poll_seconds=poll,
        heartbeat_seconds=settings.heartbeat_seconds,
        lease_seconds=settings.lease_seconds,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
    )
    webhook = _webhook(settings)
    try:
        await serve_until_signalled(store, config)
    finally:
        if webhook is not None:
            await webhook.close()
        await store.close()


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
) -> None:
    """Run the bundled document pipeline on the embedded SQLite default, with live progress."""
    from medley.demo.run import run_demo

    settings = _settings(database_url=database_url or "sqlite:///./medley-demo.db")
    configure_logging(settings.log_format, "WARNING")
    _run(lambda: run_demo(settings, console, concurrency=workers))


# --- jobs -------------------------------------------------------------------------------


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


@jobs_app.command("list")
def jobs_list(
    database_url: DbUrl = None,
    state: Annotated[JobState | None, typer.Option(help="Only jobs in this state")] = None,
    queue: Annotated[str | None, typer.Option()] = None,
    job: Annotated[str | None, typer.Option(help="Only jobs of this name")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    cursor: Annotated[str | None, typer.Option(help="Cursor printed by the previous page")] = None,
) -> None:
    """List jobs, newest first."""
    settings = _settings(database_url=database_url)
    page = _run(
        lambda: _with_service(
            settings,
            lambda s: s.list(
                JobFilter(state=state, queue=queue, job=job), limit=limit, cursor=cursor
            ),
        )
    )
    table = Table("id", "job", "queue", "state", "attempt", "progress", "created")
    table.columns[1].overflow = "fold"
    for info in page.items:
        table.add_row(
            str(info.id),
            info.job,
            info.queue,
            info.state.value,
            f"{info.attempt}/{info.max_attempts}",
            f"{info.progress.fraction:.0%}",
            info.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)
    if page.next_cursor:
        console.print(f"next page: --cursor {page.next_cursor}")


@jobs_app.command("show")
def jobs_show(job_id: int, database_url: DbUrl = None) -> None:
    """Show one job with its history, as JSON."""
    settings = _settings(database_url=database_url)
    info = _run(lambda: _with_service(settings, lambda s: s.get(job_id)))
    _print_json(info.model_dump(mode="json"))


@jobs_app.command("enqueue")
def jobs_enqueue(
    job: str,
    database_url: DbUrl = None,
    imports: Imports = None,
    args: Annotated[str, typer.Option(help="JSON array of positional arguments")] = "[]",
    kwargs: Annotated[str, typer.Option(help="JSON object of keyword arguments")] = "{}",
    queue: Annotated[str | None, typer.Option()] = None,
    priority: Annotated[int | None, typer.Option()] = None,
    delay: Annotated[str | None, typer.Option(help="e.g. 30s, 10m")] = None,
    max_attempts: Annotated[int | None, typer.Option(min=1)] = None,
    unique_key: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Enqueue a registered job by name; prints its id."""
    settings = _settings(database_url=database_url, imports=",".join(imports) if imports else None)
    try:
        parsed_args, parsed_kwargs = json.loads(args), json.loads(kwargs)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--args/--kwargs must be JSON: {exc}") from exc
    if not isinstance(parsed_args, list) or not isinstance(parsed_kwargs, dict):
        raise ConfigError("--args must be a JSON array and --kwargs a JSON object")
    wait = parse_duration(delay)
    request = EnqueueRequest(
        job=job,
        args=tuple(parsed_args),
        kwargs=parsed_kwargs,
        options=JobOptions(
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
            unique_key=unique_key,
            delay=wait if wait else None,
        ),
    )
    result = _run(lambda: _with_service(settings, lambda s: s.submit(request)))
    console.print(f"{result.id} {result.state.value}{' (existing)' if result.existing else ''}")


def _control(action: str, job_id: int, database_url: str | None) -> None:
    settings = _settings(database_url=database_url)

    async def go(s: JobService) -> str:
        if action == "delete":
            await s.delete(job_id)
            return "deleted"
        info = await (s.cancel(job_id) if action == "cancel" else s.retry(job_id))
        return info.state.value + (" (cancel requested)" if info.cancel_requested else "")

    console.print(f"job {job_id}: {_run(lambda: _with_service(settings, go))}")


@jobs_app.command("cancel")
def jobs_cancel(job_id: int, database_url: DbUrl = None) -> None:
    """Cancel a job (a processing one is asked to stop)."""
    _control("cancel", job_id, database_url)


Selection = Annotated[bool, typer.Option("--all", help="Every final job matching the filters")]


def _bulk(
    action: str,
    database_url: str | None,
    state: list[JobState] | None,
    queue: str | None,
    job: str | None,
    error_type: str | None,
) -> None:
    settings = _settings(database_url=database_url)
    try:
        selection = BulkSelection(
            states=tuple(state or [JobState.FAILED]), queue=queue, job=job, error_type=error_type
        )
    except ValidationError as exc:
        raise ConfigError("--state must name final states (failed, cancelled, succeeded)") from exc

    async def go(s: JobService) -> int:
        return await (s.retry_many(selection) if action == "retry" else s.delete_many(selection))

    count = _run(lambda: _with_service(settings, go))
    console.print(f"{'retried' if action == 'retry' else 'deleted'} {count} jobs")


def _one_or_all(
    action: str,
    job_id: int | None,
    every: bool,
    database_url: str | None,
    filters: tuple[list[JobState] | None, str | None, str | None, str | None],
) -> None:
    if every == (job_id is not None):
        raise ConfigError(f"give either a job id or --all (with filters) to {action}")
    if job_id is not None:
        _control(action, job_id, database_url)
    else:
        _bulk(action, database_url, *filters)


FilterState = Annotated[
    list[JobState] | None, typer.Option("--state", help="With --all: states (default failed)")
]
FilterQueue = Annotated[str | None, typer.Option("--queue", help="With --all: only this queue")]
FilterJob = Annotated[str | None, typer.Option("--job", help="With --all: only this job name")]
FilterError = Annotated[
    str | None, typer.Option("--error-type", help="With --all: only this last error type")
]


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[int | None, typer.Argument()] = None,
    every: Selection = False,
    database_url: DbUrl = None,
    state: FilterState = None,
    queue: FilterQueue = None,
    job: FilterJob = None,
    error_type: FilterError = None,
) -> None:
    """Send a failed or cancelled job back to the queue; --all for every match."""
    _one_or_all("retry", job_id, every, database_url, (state, queue, job, error_type))


@jobs_app.command("delete")
def jobs_delete(
    job_id: Annotated[int | None, typer.Argument()] = None,
    every: Selection = False,
    database_url: DbUrl = None,
    state: FilterState = None,
    queue: FilterQueue = None,
    job: FilterJob = None,
    error_type: FilterError = None,
) -> None:
    """Delete a job that is not processing; --all for every matching final job."""
    _one_or_all("delete", job_id, every, database_url, (state, queue, job, error_type))


USER_ERRORS = (
    ConfigError,
    DuplicateJobError,
    InvalidArgumentsError,
    InvalidTransitionError,
    JobNotFoundError,
    UnknownJobError,
)
"""Errors in what the user asked for: exit code 2. Anything else (storage) exits 1."""


def main() -> None:
    """Entry point: map errors to one line on stderr and an exit code."""
    try:
        app()  # usage errors and --help are handled (and exit) inside
    except MedleyError as exc:
        _fail(str(exc), 2 if isinstance(exc, USER_ERRORS) else 1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
