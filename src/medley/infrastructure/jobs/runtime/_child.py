"""Entry point of a CPU-bound job process: `python -m` this module with two pipe fds.

Messages to the parent: `("progress", fraction, message)`, `("log", ...)` (a `ctx.log`
line to store), `("record", values)` (a log record) and `("usage", tokens)` (a
`ctx.report_usage` call, sent at once so that it counts even if the child is killed) any
number of times, then one outcome per job: `("ok", result)`, `("snooze", seconds,
reason, limit_backoff)` (a `Snooze`, e.g. from `ctx.rate_limited`), `("retry", seconds or
None, reason)` (a `Retry`) or `("error", (type name, message, traceback))`.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

from medley.infrastructure.jobs.context import JobContext, JobIdentity
from medley.infrastructure.jobs.control import Retry, Snooze
from medley.infrastructure.jobs.registry import DEFAULT_REGISTRY
from medley.infrastructure.jobs.storage.port import ProgressUpdate
from medley.infrastructure.observability.remote import child_scope


def _run_one(writer: Connection, request: tuple[Any, ...]) -> None:
    module, name, args, kwargs, identity, logging_settings = request
    importlib.import_module(module)
    definition = DEFAULT_REGISTRY.get(name)
    job = JobIdentity(*identity)
    fields = {"job_id": job.id, "job": job.job, "queue": job.queue, "attempt": job.attempt}
    scope = child_scope(writer, {**fields, "worker": job.worker}, logging_settings)
    with scope as (send, capture):
        if definition.takes_context:

            def report(update: ProgressUpdate) -> None:
                send(("progress", update.fraction, update.message))

            def usage(tokens: float) -> None:
                send(("usage", tokens))

            request_id = logging_settings.get("request_id")
            ctx = JobContext(job, report, request_id=request_id, capture=capture, on_usage=usage)
            args = [ctx, *args]
        outcome: tuple[Any, ...]
        try:
            outcome = ("ok", definition.func(*args, **kwargs))
        except Snooze as exc:  # e.g. ctx.rate_limited(): applied by the worker, as in-process
            outcome = ("snooze", exc.delay.total_seconds(), str(exc), exc.limit_backoff)
        except Retry as exc:
            delay = None if exc.delay is None else exc.delay.total_seconds()
            outcome = ("retry", delay, str(exc))
    writer.send(outcome)


def serve(reader: Connection, writer: Connection) -> None:
    """Serve jobs one at a time until the parent closes the pipe."""
    while True:
        try:
            request = reader.recv()
        except EOFError:
            return
        try:
            _run_one(writer, request)
        except Exception as exc:
            writer.send(("error", (type(exc).__name__, str(exc), traceback.format_exc())))


if __name__ == "__main__":
    serve(
        Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False)
    )
