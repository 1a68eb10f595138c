"""Per-job logs: `ctx.log` lines (and, opt-in, every record logged while the job runs)
stored with the job, bounded, and shown on its page and by the API.

A line never waits on the database: it goes to an in-memory buffer per job, bounded like
the stored lines (so a flood costs memory only up to the bounds), and a flusher writes
every job's new lines in one statement per interval. The store numbers each job's lines
and drops the oldest beyond the bounds; the count of dropped lines is the marker the
page shows.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections import deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from medley.application.errors import StorageError
from medley.infrastructure.jobs.storage.port import JobLogAppendParams, JobLogEntry, JobStore
from medley.infrastructure.tasks import cancel_and_wait

log = logging.getLogger("medley.worker")

CAPTURE_MODES = ("ctx", "all", "off")
LineCapture = Callable[[int, str, str, str, float], None]
"""`capture(levelno, levelname, logger, message, created)`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobLogConfig:
    """How much of a job's logging is stored with it."""

    capture: str = "ctx"
    """`ctx`: lines logged through `ctx.log`; `all`: every record logged while the job runs
    (by any logger that lets it through); `off`: none."""
    level: int = logging.INFO
    """Lines below this level are not stored."""
    max_lines: int = 1000
    """Lines kept per job; the oldest beyond are dropped (and counted)."""
    max_bytes: int = 256 * 1024
    """UTF-8 bytes of messages kept per job; the oldest beyond are dropped."""
    max_line_bytes: int = 8 * 1024
    """A longer message is cut to this size (marked)."""
    flush_seconds: float = 1.0
    """How often buffered lines are written."""

    def __post_init__(self) -> None:
        if self.capture not in CAPTURE_MODES:
            raise ValueError(f"capture must be one of {', '.join(CAPTURE_MODES)}")
        if min(self.max_lines, self.max_bytes, self.max_line_bytes) < 1:
            raise ValueError("job log bounds must be positive")
        if self.flush_seconds <= 0:
            raise ValueError("flush_seconds must be positive")


def _truncate(message: str, limit: int) -> str:
    encoded = message.encode()
    if len(encoded) <= limit:
        return message
    marker = f" … [{len(encoded) - limit} bytes cut]"
    return encoded[: max(limit - len(marker.encode()), 0)].decode(errors="ignore") + marker


@dataclass
class _Pending:
    """One job's lines since the last flush, oldest first, within the bounds."""

    lines: deque[JobLogEntry] = field(default_factory=deque)
    size: int = 0
    dropped: int = 0
    """Lines dropped in memory before `lines` (newer than anything stored)."""
    dropped_bytes: int = 0
    """Their message bytes."""

    def add(self, entry: JobLogEntry, config: JobLogConfig) -> None:
        self.lines.append(entry)
        self.size += len(entry.message.encode())
        while len(self.lines) > config.max_lines or self.size > config.max_bytes:
            gone = len(self.lines.popleft().message.encode())
            self.size -= gone
            self.dropped += 1
            self.dropped_bytes += gone

    def put_back_before(self, newer: _Pending, config: JobLogConfig) -> _Pending:
        """`self` could not be written; `newer` came in meanwhile: one batch, oldest first."""
        if newer.dropped:  # lines newer than all of `self` were dropped: `self` goes too
            newer.dropped += self.dropped + len(self.lines)
            newer.dropped_bytes += self.dropped_bytes + self.size
            return newer
        merged = _Pending(dropped=self.dropped, dropped_bytes=self.dropped_bytes)
        for entry in [*self.lines, *newer.lines]:
            merged.add(entry, config)
        return merged


class JobLogCollector:
    """Buffers the captured lines of one worker's running jobs. Thread-safe: sync jobs log
    from their own threads."""

    def __init__(self, config: JobLogConfig | None = None) -> None:
        self.config = config or JobLogConfig()
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.config.capture != "off"

    def sink(self, job_id: int, attempt: int) -> LineCapture | None:
        """Where the lines of this attempt go (None when capture is off)."""
        if not self.enabled:
            return None

        def capture(levelno: int, level: str, logger: str, message: str, created: float) -> None:
            if levelno >= self.config.level:
                self.add(job_id, attempt, level, logger, message, created)

        return capture

    def add(
        self, job_id: int, attempt: int, level: str, logger: str, message: str, created: float
    ) -> None:
        entry = JobLogEntry(
            job_id=job_id,
            attempt=attempt,
            at=datetime.fromtimestamp(created, UTC),
            level=level,
            logger=logger,
            message=_truncate(message, self.config.max_line_bytes),
        )
        with self._lock:
            self._pending.setdefault(job_id, _Pending()).add(entry, self.config)

    def drain(self) -> dict[int, _Pending]:
        with self._lock:
            batch, self._pending = self._pending, {}
        return batch

    def put_back(self, batch: dict[int, _Pending]) -> None:
        """Lines whose write failed: kept (within the bounds) for the next flush."""
        with self._lock:
            for job_id, older in batch.items():
                newer = self._pending.get(job_id, _Pending())
                self._pending[job_id] = older.put_back_before(newer, self.config)

    @staticmethod
    def entries(batch: dict[int, _Pending]) -> list[JobLogEntry]:
        """The batch's lines, each placed after the job's last stored line: by number and
        by bytes (lines dropped in memory count in both)."""
        out: list[JobLogEntry] = []
        for pending in batch.values():
            before = pending.dropped_bytes
            for index, entry in enumerate(pending.lines):
                out.append(replace(entry, pos=pending.dropped + index + 1, boff=before))
                before += len(entry.message.encode())
        return out


class JobLogFlusher:
    """Writes buffered lines every `config.flush_seconds`; a failed write keeps them."""

    def __init__(self, store: JobStore, collector: JobLogCollector) -> None:
        self.store = store
        self.collector = collector
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """Write what is buffered; returns how many lines were stored."""
        batch = self.collector.drain()
        entries = self.collector.entries(batch)
        if not entries:
            return 0
        config = self.collector.config
        try:
            return await self.store.job_log_append(
                JobLogAppendParams(
                    entries=entries, max_lines=config.max_lines, max_bytes=config.max_bytes
                )
            )
        except StorageError as exc:
            log.warning("storing job logs failed (%s); keeping them for the next try", exc)
            self.collector.put_back(batch)
            return 0

    def start(self) -> None:
        if self.collector.enabled:
            self._task = asyncio.create_task(self._run(), name="medley-job-logs")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.collector.config.flush_seconds)
            await self.run_once()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        if self.collector.enabled:
            await self.run_once()


class JobLogger(logging.LoggerAdapter[logging.Logger]):
    """`ctx.log`: a logger adapter that carries the job's fields on each record and also
    stores each line with the job, whatever the logging configuration lets through."""

    def __init__(
        self, logger: logging.Logger, fields: dict[str, Any], capture: LineCapture | None
    ) -> None:
        super().__init__(logger, fields)
        self._capture = capture

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        if self._capture is not None:
            extra["_medley_captured"] = True  # stored already: the capture-all handler skips it
        kwargs["extra"] = extra
        return msg, kwargs

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if self._capture is not None:
            self._store(level, msg, args, kwargs.get("exc_info"))
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1  # report the job's line
        super().log(level, msg, *args, **kwargs)

    def _store(self, level: int, msg: Any, args: tuple[Any, ...], exc_info: Any) -> None:
        assert self._capture is not None
        record = logging.LogRecord(self.logger.name, level, "", 0, msg, args, None)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not fail the job; logging reports it
            message = f"{msg} {args}"
        if exc_info:
            if isinstance(exc_info, BaseException):
                exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
            elif not isinstance(exc_info, tuple):
                exc_info = sys.exc_info()
            if exc_info[0] is not None:
                message += "\n" + logging.Formatter().formatException(exc_info)
        self._capture(level, logging.getLevelName(level), self.logger.name, message, record.created)
