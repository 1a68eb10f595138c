"""Job and request fields on every log record, through the standard `logging` module.

A filter, not a record factory: a factory would set `job_id` before `extra` is applied,
and `logging` refuses an `extra` key that is already set (KeyError), so any code logging
`extra={"job": ...}` inside a job would break. The filter runs after, and never
overwrites what a call passed explicitly.
"""

from __future__ import annotations

import logging

from medley.infrastructure.observability.context import current_job_scope, current_request_id

JOB_FIELDS = ("job_id", "job", "queue", "attempt", "worker", "request_id")
"""The fields a record logged while a job runs carries (request_id when known)."""


class JobContextFilter(logging.Filter):
    """Adds the running job's fields (and otherwise the current request id) to each record
    passing through a handler. Always lets the record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        values = record.__dict__
        scope = current_job_scope()
        if scope is not None:
            for key, value in scope.fields.items():
                if key not in values:
                    values[key] = value
        else:
            request_id = current_request_id()
            if request_id is not None and "request_id" not in values:
                values["request_id"] = request_id
        return True


class JobLogCaptureHandler(logging.Handler):
    """Opt-in (`MEDLEY_JOB_LOG_CAPTURE=all`): every record logged while a job runs, by any
    logger, is also stored with the job. `ctx.log` lines are stored by `ctx.log` itself
    (whatever the logger levels) and marked, so they are not stored twice."""

    def emit(self, record: logging.LogRecord) -> None:
        scope = current_job_scope()
        if scope is None or not scope.capture_all or scope.capture is None:
            return
        if record.__dict__.get("_medley_captured"):
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            scope.capture(record.levelno, record.levelname, record.name, message, record.created)
        except Exception:
            self.handleError(record)


def _handlers() -> list[logging.Handler]:
    loggers: list[logging.Logger] = [logging.getLogger()]
    for candidate in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(candidate, logging.Logger):
            loggers.append(candidate)
    return [handler for logger in loggers for handler in logger.handlers]


def install_log_context() -> None:
    """Put a `JobContextFilter` on every handler configured so far (the root logger's and
    any other logger's), once each: the host application's handlers, levels and formatters
    stay as they are and its records gain the job fields. Idempotent; call it again after
    adding handlers (a worker calls it when it starts)."""
    for handler in _handlers():
        if not any(isinstance(f, JobContextFilter) for f in handler.filters):
            handler.addFilter(JobContextFilter())


def install_capture_handler(level: int) -> None:
    """Attach the capture-all handler to the root logger (once)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, JobLogCaptureHandler):
            handler.setLevel(min(handler.level, level))
            return
    root.addHandler(JobLogCaptureHandler(level))
