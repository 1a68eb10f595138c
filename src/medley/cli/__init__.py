"""The `medley` command. Thin: parse options -> Settings -> call a service. Bad input exits
non-zero with one line on stderr, never a traceback.

Each subcommand group lives in its own module; importing them registers their commands."""

from __future__ import annotations

import sys

import typer

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
from medley.cli import jobs, limits, observe, recurring, web, worker
from medley.cli._common import _fail, app

__all__ = ["app", "jobs", "limits", "main", "observe", "recurring", "web", "worker"]


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
