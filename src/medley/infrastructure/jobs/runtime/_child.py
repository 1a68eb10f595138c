"""Entry point of a CPU-bound job process: `python -m` this module with two pipe fds.

Messages to the parent: `("progress", fraction, message)`, `("log", ...)` (a `ctx.log`
line to store) and `("record", values)` (a log record) any number of times, then one
`("ok", result)` or `("error", (type name, message, traceback))` per job.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

from medley.infrastructure.jobs.context import JobContext, JobIdentity
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

            request_id = logging_settings.get("request_id")
            args = [JobContext(job, report, request_id=request_id, capture=capture), *args]
        result = definition.func(*args, **kwargs)
    writer.send(("ok", result))


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
