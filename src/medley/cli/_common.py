"""What every `medley` subcommand shares: the Typer app, consoles, option types, and the
run-a-service helpers that turn errors into one line."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from medley.application.errors import (
    ConfigError,
)
from medley.config import Settings
from medley.infrastructure.jobs.runtime.main import import_job_modules
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


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


async def _with_store(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    store = await open_store(settings.database_url, auto_migrate=settings.auto_migrate)
    try:
        return await action(store)
    finally:
        await store.close()
