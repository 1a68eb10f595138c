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
    BatchClosedError,
    BatchNotFoundError,
    ConfigError,
    DuplicateJobError,
    InvalidArgumentsError,
    InvalidTransitionError,
    JobNotFoundError,
    MedleyError,
    RecurringJobNotFoundError,
    UnknownJobError,
)
from medley.application.models.jobs import (
    BulkSelection,
    EnqueueRequest,
    JobFilter,
    JobOptions,
    JobState,
)
from medley.application.models.observability import HealthReport
from medley.application.models.workflows import Misfire, RecurringJob
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
    )
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
        str(settings.concurrency),
    ]
    for module in settings.import_list():
        child += ["--import", module]
    supervisor = Supervisor(
        child, settings.processes, stop_timeout=settings.shutdown_grace_seconds + 10, env=env
    )
    return supervisor.run()


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

    for name, max_running in settings.limit_map().items():  # MEDLEY_LIMITS, synced at start
        limit(name, max_running=max_running)
    store = await open_store(
        settings.database_url,
        auto_migrate=settings.auto_migrate,
        pool_max=min(settings.concurrency + 4, 20),
    )
    config = settings.worker_config()
    webhook = _webhook(settings)
    observability = await _observability_server(settings, store)
    try:
        await serve_until_signalled(store, config)
    finally:
        if observability is not None:
            await observability.stop()
        if webhook is not None:
            await webhook.close()
        await store.close()


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


# --- web: serve, users, tokens ---------------------------------------------------------

users_app = typer.Typer(no_args_is_help=True, help="Dashboard users (login form).")
tokens_app = typer.Typer(no_args_is_help=True, help="API bearer tokens.")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
RoleOption = Annotated[str, typer.Option("--role", help="viewer (read) or admin (act)")]


@app.command()
def serve(
    database_url: DbUrl = None,
    imports: Imports = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on [MEDLEY_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [MEDLEY_PORT]")] = None,
    with_worker: Annotated[
        bool | None,
        typer.Option(
            "--with-worker/--no-worker",
            help="Run a worker in this process [default: on for SQLite] [MEDLEY_WITH_WORKER]",
        ),
    ] = None,
) -> None:
    """Serve the REST API, the event stream and the dashboard (/hangfire) with uvicorn."""
    import uvicorn

    from medley.web.app import create_app

    settings = _settings(
        database_url=database_url,
        host=host,
        port=port,
        with_worker=with_worker,
        imports=",".join(imports) if imports else None,
    )
    configure_logging(settings.log_format, settings.log_level)
    import_job_modules(settings.import_list())
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    console.print(f"serving on http://{settings.host}:{settings.port} (dashboard: /hangfire)")
    server.run()
    if not server.started:  # uvicorn has logged why (e.g. the port is taken)
        raise typer.Exit(1)


def _role(value: str) -> Any:
    from medley.web.auth.principal import Role

    try:
        return Role(value)
    except ValueError:
        raise ConfigError(f"invalid role {value!r}: expected viewer or admin") from None


async def _with_store(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    store = await open_store(settings.database_url, auto_migrate=settings.auto_migrate)
    try:
        return await action(store)
    finally:
        await store.close()


@users_app.command("add")
def users_add(
    name: str,
    role: RoleOption = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
    database_url: DbUrl = None,
) -> None:
    """Add a dashboard user, or set an existing user's password and role."""
    from medley.web.auth.users import UserDirectory

    settings = _settings(database_url=database_url)
    chosen = _role(role)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    created = _run(
        lambda: _with_store(settings, lambda st: UserDirectory(st).add(name, password, chosen))
    )
    console.print(f"user {escape(name)} {'added' if created else 'updated'} ({chosen.value})")


@users_app.command("remove")
def users_remove(name: str, database_url: DbUrl = None) -> None:
    """Remove a dashboard user (their open sessions end when they next expire)."""
    settings = _settings(database_url=database_url)
    removed = _run(lambda: _with_store(settings, lambda st: st.user_delete(name)))
    if not removed:
        raise ConfigError(f"no user named {name!r}")
    console.print(f"user {escape(name)} removed")


@tokens_app.command("create")
def tokens_create(
    role: RoleOption = "viewer",
    name: Annotated[str, typer.Option(help="What the token is for")] = "",
    database_url: DbUrl = None,
) -> None:
    """Create an API token. It is printed once, alone on the last line; only its hash is kept."""
    from medley.web.auth.tokens import TokenAuthority

    settings = _settings(database_url=database_url)
    chosen = _role(role)
    token_id, token = _run(
        lambda: _with_store(settings, lambda st: TokenAuthority(st).create(chosen, name))
    )
    console.print(f"token {token_id} ({chosen.value}) created; it is shown only this once:")
    print(token, flush=True)


@tokens_app.command("revoke")
def tokens_revoke(token_id: int, database_url: DbUrl = None) -> None:
    """Revoke an API token by id: requests with it fail from now on."""
    settings = _settings(database_url=database_url)
    revoked = _run(lambda: _with_store(settings, lambda st: st.token_revoke(token_id)))
    if not revoked:
        raise ConfigError(f"no active token with id {token_id}")
    console.print(f"token {token_id} revoked")


@tokens_app.command("list")
def tokens_list(database_url: DbUrl = None) -> None:
    """List API tokens (ids, names, roles; never the secrets)."""
    settings = _settings(database_url=database_url)
    rows = _run(lambda: _with_store(settings, lambda st: st.token_list()))
    table = Table("id", "name", "role", "created", "revoked")
    for row in rows:
        table.add_row(
            str(row.id),
            row.name,
            row.role,
            row.created_at.strftime("%Y-%m-%d %H:%M"),
            row.revoked_at.strftime("%Y-%m-%d %H:%M") if row.revoked_at else "",
        )
    console.print(table)


# --- observability ----------------------------------------------------------------------

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


@app.command()
def health(
    database_url: DbUrl = None,
    as_json: AsJson = False,
    expect_workers: Annotated[
        bool | None,
        typer.Option(
            "--expect-workers/--no-expect-workers",
            help="Fail without a fresh worker heartbeat [MEDLEY_HEALTH_EXPECT_WORKERS]",
        ),
    ] = None,
    max_queue_age: Annotated[
        str | None,
        typer.Option(help="Fail when a runnable job waited longer, e.g. 10m; 0 disables"),
    ] = None,
    timeout: Annotated[str | None, typer.Option(help="Answer within this, e.g. 2s")] = None,
) -> None:
    """Readiness checks (database, migrations, workers, queue lag, dead-letter growth), as
    /health/ready runs them: exit 0 when ready, 1 when not (for process probes)."""
    from medley.infrastructure.observability.health import check_readiness

    age, limit = parse_duration(max_queue_age), parse_duration(timeout)
    settings = _settings(
        database_url=database_url,
        health_expect_workers=expect_workers,
        health_max_queue_age_seconds=age.total_seconds() if age is not None else None,
        health_timeout_seconds=limit.total_seconds() if limit else None,
    )
    config = settings.health_config()

    async def go() -> HealthReport:
        store = create_store(settings.database_url, pool_max=2)
        try:
            return await check_readiness(store, config, open_store=True)
        finally:
            await store.close()

    report = _run(go)
    if as_json:
        _print_json(report.model_dump(mode="json"))
    else:
        table = Table("check", "status", "figure", "limit", "message")
        for check in report.checks:
            color = {"pass": "green", "fail": "red"}.get(check.status.value, "dim")
            table.add_row(
                check.name,
                f"[{color}]{check.status.value}[/]",
                "" if check.figure is None else str(check.figure),
                "" if check.limit is None else f"{check.limit:g}",
                escape(check.message),
            )
        console.print(table)
        console.print(f"ready: {'yes' if report.ok else 'no'}")
    raise typer.Exit(0 if report.ok else 1)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 120:
        return f"{value:.1f}s"
    return f"{value / 60:.1f}m"


@app.command()
def stats(
    database_url: DbUrl = None,
    window: Annotated[str, typer.Option(help="How far back, e.g. 15m, 1h, 1d")] = "1h",
    job: Annotated[str | None, typer.Option(help="Only this job name")] = None,
    queue: Annotated[str | None, typer.Option(help="Only this queue")] = None,
    as_json: AsJson = False,
) -> None:
    """Throughput, latency percentiles and failure rate per job over a window, from the
    stored jobs (succeeded ones are kept for MEDLEY_RETENTION_SECONDS, a day by default)."""
    from medley.infrastructure.observability.stats import collect_stats

    span = parse_duration(window)
    if not span:
        raise ConfigError(f"--window must be a positive duration, not {window!r}")
    settings = _settings(database_url=database_url)
    report = _run(
        lambda: _with_store(settings, lambda s: collect_stats(s, span, job=job, queue=queue))
    )
    if as_json:
        _print_json(report.model_dump(mode="json"))
        return
    table = Table(
        "job", "done", "ok", "failed", "cancelled", "retries", "/min", "fail %",
        "p50", "p95", "p99", "max", "wait p50", "wait p95",
        title=f"last {window} (since {report.since:%Y-%m-%d %H:%M:%S} UTC)",
    )  # fmt: skip
    table.columns[0].overflow = "fold"
    for s in report.jobs:
        rate = "-" if s.failure_rate is None else f"{s.failure_rate:.1%}"
        table.add_row(
            s.job, str(s.finished), str(s.succeeded), str(s.failed), str(s.cancelled),
            str(s.retries), f"{s.throughput_per_minute:.2f}", rate,
            _seconds(s.run_p50), _seconds(s.run_p95), _seconds(s.run_p99),
            _seconds(s.run_max), _seconds(s.wait_p50), _seconds(s.wait_p95),
        )  # fmt: skip
    console.print(table)
    if not report.jobs:
        console.print("no job finished in this window")


# --- recurring jobs ---------------------------------------------------------------------

recurring_app = typer.Typer(no_args_is_help=True, help="Recurring (cron) jobs.")
app.add_typer(recurring_app, name="recurring")


@recurring_app.command("list")
def recurring_list(database_url: DbUrl = None) -> None:
    """List recurring jobs with their schedule, next run and last run."""
    settings = _settings(database_url=database_url)
    items = _run(lambda: _with_service(settings, lambda s: s.recurring_list()))
    table = Table("name", "job", "cron", "timezone", "next run (UTC)", "last run", "last state")
    for r in items:
        table.add_row(
            r.name + (" (paused)" if r.paused else ""),
            r.job,
            r.cron,
            r.timezone,
            r.next_run_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.last_run_at.strftime("%Y-%m-%d %H:%M:%S") if r.last_run_at else "-",
            r.last_state.value if r.last_state else "-",
        )
    console.print(table)


@recurring_app.command("add")
def recurring_add(
    name: str,
    job: str,
    cron: Annotated[str, typer.Option(help="5 or 6 fields, or @hourly, @daily, ...")],
    timezone: Annotated[str, typer.Option(help="IANA time zone of the cron")] = "UTC",
    database_url: DbUrl = None,
    imports: Imports = None,
    args: Annotated[str, typer.Option(help="JSON array of positional arguments")] = "[]",
    kwargs: Annotated[str, typer.Option(help="JSON object of keyword arguments")] = "{}",
    queue: Annotated[str | None, typer.Option()] = None,
    misfire: Annotated[Misfire, typer.Option(help="After downtime: once, all or skip")] = (
        Misfire.ONCE
    ),
) -> None:
    """Create or redefine a recurring job (by name) for a registered job."""
    settings = _settings(database_url=database_url, imports=",".join(imports) if imports else None)
    try:
        parsed_args, parsed_kwargs = json.loads(args), json.loads(kwargs)
        spec = RecurringJob(
            name=name,
            job=job,
            cron=cron,
            timezone=timezone,
            args=tuple(parsed_args),
            kwargs=parsed_kwargs,
            options=JobOptions(queue=queue),
            misfire=misfire,
        )
    except (json.JSONDecodeError, TypeError, ValidationError) as exc:
        raise ConfigError(f"invalid recurring job: {exc}") from exc
    info = _run(lambda: _with_service(settings, lambda s: s.recurring_add(spec)))
    console.print(f"{info.name}: next run {info.next_run_at:%Y-%m-%d %H:%M:%S} UTC")


@recurring_app.command("trigger")
def recurring_trigger(name: str, database_url: DbUrl = None) -> None:
    """Run a recurring job once now, without moving its next run; prints the job id."""
    settings = _settings(database_url=database_url)
    result = _run(lambda: _with_service(settings, lambda s: s.recurring_trigger(name)))
    console.print(f"{result.id} {result.state.value}")


@recurring_app.command("pause")
def recurring_pause(name: str, database_url: DbUrl = None) -> None:
    """Stop firing a recurring job until it is resumed."""
    settings = _settings(database_url=database_url)
    _run(lambda: _with_service(settings, lambda s: s.recurring_pause(name)))
    console.print(f"{name}: paused")


@recurring_app.command("resume")
def recurring_resume(name: str, database_url: DbUrl = None) -> None:
    """Fire a paused recurring job again from its next tick."""
    settings = _settings(database_url=database_url)
    info = _run(lambda: _with_service(settings, lambda s: s.recurring_resume(name)))
    console.print(f"{name}: next run {info.next_run_at:%Y-%m-%d %H:%M:%S} UTC")


@recurring_app.command("remove")
def recurring_remove(name: str, database_url: DbUrl = None) -> None:
    """Remove a recurring job (the jobs it already fired stay)."""
    settings = _settings(database_url=database_url)
    _run(lambda: _with_service(settings, lambda s: s.recurring_remove(name)))
    console.print(f"{name}: removed")


# --- limits -----------------------------------------------------------------------------

limits_app = typer.Typer(no_args_is_help=True, help="Global concurrency limits.")
app.add_typer(limits_app, name="limits")


@limits_app.command("list")
def limits_list(database_url: DbUrl = None) -> None:
    """List concurrency limits with the slots in use now."""
    settings = _settings(database_url=database_url)
    items = _run(lambda: _with_service(settings, lambda s: s.limit_list()))
    table = Table("name", "max running", "running", "busy keys", "set by")
    for r in items:
        table.add_row(r.name, str(r.max_running), str(r.running), str(r.busy_keys), r.source)
    console.print(table)
    if not items:
        console.print("no limit defined")


@limits_app.command("set")
def limits_set(name: str, max_running: int, database_url: DbUrl = None) -> None:
    """Define or change a limit for every worker (kept over the value declared in code)."""
    settings = _settings(database_url=database_url)
    info = _run(lambda: _with_service(settings, lambda s: s.limit_set(name, max_running)))
    console.print(f"{info.name}: max {info.max_running} running ({info.running} now)")


@limits_app.command("remove")
def limits_remove(name: str, database_url: DbUrl = None) -> None:
    """Forget a limit: its jobs run unlimited until it is defined again."""
    settings = _settings(database_url=database_url)
    if not _run(lambda: _with_service(settings, lambda s: s.limit_remove(name))):
        raise ConfigError(f"no limit named {name!r}")
    console.print(f"{name}: removed")


USER_ERRORS = (
    ConfigError,
    DuplicateJobError,
    InvalidArgumentsError,
    InvalidTransitionError,
    JobNotFoundError,
    UnknownJobError,
    RecurringJobNotFoundError,
    BatchNotFoundError,
    BatchClosedError,
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
