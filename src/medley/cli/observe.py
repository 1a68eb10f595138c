"""`medley health` and `medley stats`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from medley.application.errors import (
    ConfigError,
)
from medley.application.models.observability import HealthReport
from medley.cli._common import (
    DbUrl,
    _print_json,
    _run,
    _settings,
    _with_store,
    app,
    console,
)
from medley.infrastructure.jobs.duration import parse_duration
from medley.infrastructure.jobs.storage.factory import create_store

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
