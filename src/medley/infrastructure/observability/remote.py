"""Logging of `cpu_bound` jobs, which run in child processes: the child sends its records
and its `ctx.log` lines up the job's pipe, and the worker handles them inside the
attempt's scope, so they reach the worker's handlers (with the job fields) and the job's
stored log exactly as those of a job run in the worker itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

from medley.infrastructure.jobs.context import JobContext
from medley.infrastructure.observability.context import JobScope, job_scope
from medley.infrastructure.observability.joblog import LineCapture
from medley.infrastructure.observability.logfilter import JobContextFilter

Relay = Callable[[str, tuple[Any, ...]], None]


def child_settings(ctx: JobContext, *, capture_all: bool) -> dict[str, Any]:
    """What the child needs to log as the worker would: the request id, the lowest level
    any worker logger would let through, and whether to store every record."""
    level = min(logging.getLogger().getEffectiveLevel(), ctx.log.logger.getEffectiveLevel())
    return {
        "request_id": ctx.log_fields.get("request_id"),
        "level": level,
        "capture": ctx.capture is not None,
        "capture_all": capture_all,
    }


def relay(ctx: JobContext) -> Relay:
    """The worker side: `("log", ...)` lines are stored with the job; `("record", dict)`
    records are handled by their logger, if the worker's levels let them through."""

    def handle(kind: str, payload: tuple[Any, ...]) -> None:
        if kind == "log" and ctx.capture is not None:
            ctx.capture(*payload)
        elif kind == "record":
            record = logging.makeLogRecord(payload[0])
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)

    return handle


class _PipeHandler(logging.Handler):
    """In the child: every record, formatted to plain values, up the pipe."""

    def __init__(self, send: Callable[[tuple[Any, ...]], None]) -> None:
        super().__init__()
        self.send = send
        self.addFilter(JobContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            values = dict(record.__dict__)
            values["msg"] = record.getMessage()
            values["args"] = None
            if record.exc_info:
                values["exc_text"] = logging.Formatter().formatException(record.exc_info)
            values["exc_info"] = None
            self.send(("record", {k: v for k, v in values.items() if _plain(v)}))
        except Exception:
            self.handleError(record)


def _plain(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


@contextmanager
def child_scope(
    writer: Connection, fields: dict[str, Any], settings: dict[str, Any]
) -> Iterator[tuple[Callable[[tuple[Any, ...]], None], LineCapture | None]]:
    """In the child, around one job: records go up the pipe, and so do `ctx.log` lines.
    Yields the pipe's locked `send` (progress must use it too: a job's own threads may
    log meanwhile) and the capture for the job's context."""
    lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with lock:
            writer.send(message)

    def capture(levelno: int, level: str, logger: str, message: str, created: float) -> None:
        send(("log", levelno, level, logger, message, created))

    root = logging.getLogger()
    handler = _PipeHandler(send)
    root.addHandler(handler)
    previous = root.level
    root.setLevel(settings.get("level", logging.WARNING))
    if settings.get("request_id"):
        fields = {**fields, "request_id": settings["request_id"]}
    scope = JobScope(fields=fields)
    try:
        with job_scope(scope):
            yield send, (capture if settings.get("capture") else None)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
