"""Logging on the standard `logging` module, so Medley joins the host's own handlers,
levels and formatters. The CLI installs one handler, console or JSON; a host application
configures its own, and a starting worker adds `JobContextFilter` to the handlers it finds
so that every record logged while a job runs carries the job's fields.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from medley.infrastructure.observability.logfilter import (
    JOB_FIELDS,
    JobContextFilter,
    install_log_context,
)

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, every extra field (job_id,
    job, queue, attempt, worker, request_id, ...) and the exception, if any."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(_extras(record))
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, default=str)


class ConsoleFormatter(logging.Formatter):
    """`12:00:01 INFO    medley.job: message [job=app.extract job_id=7 attempt=1 ...]`: the
    job fields, when a record has them, in a fixed order after the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        values = record.__dict__
        fields = " ".join(f"{key}={values[key]}" for key in JOB_FIELDS if key in values)
        return f"{line} [{fields}]" if fields else line


def configure_logging(fmt: str = "console", level: str = "INFO") -> None:
    """The CLI's logging: one stderr handler (console or JSON) carrying job fields; WARNING
    for other libraries, `level` for Medley's own loggers (`ctx.log` included)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.addFilter(JobContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("medley").setLevel(level.upper())
    install_log_context()
