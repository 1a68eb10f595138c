"""Log context and formats: fields from contextvars onto records, JSON and console lines,
`ctx.log` capture, and the bounded per-job buffer."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from sys import exc_info

import pytest

from medley.infrastructure.jobs.context import JobContext, JobIdentity
from medley.infrastructure.logs import ConsoleFormatter, JsonFormatter
from medley.infrastructure.observability.context import (
    JobScope,
    clean_request_id,
    current_request_id,
    enqueue_meta,
    job_scope,
    request_scope,
)
from medley.infrastructure.observability.joblog import JobLogCollector, JobLogConfig
from medley.infrastructure.observability.logfilter import (
    JobContextFilter,
    JobLogCaptureHandler,
    install_log_context,
)

pytestmark = pytest.mark.unit

FIELDS = {"job_id": 7, "job": "app.extract", "queue": "ai", "attempt": 2, "worker": "w1"}
Line = tuple[int, str, str, str, float]


def record(message: str = "hello", **extra: object) -> logging.LogRecord:
    made = logging.makeLogRecord({"name": "app", "levelno": 20, "levelname": "INFO"})
    made.msg = message
    made.__dict__.update(extra)
    return made


def test_filter_adds_the_running_jobs_fields() -> None:
    with job_scope(JobScope(fields={**FIELDS, "request_id": "r1"})):
        rec = record()
        JobContextFilter().filter(rec)

    assert {k: rec.__dict__[k] for k in [*FIELDS, "request_id"]} == {**FIELDS, "request_id": "r1"}


def test_filter_never_overwrites_a_field_passed_in_extra() -> None:
    with job_scope(JobScope(fields=FIELDS)):
        rec = record(job="chosen by the caller")
        JobContextFilter().filter(rec)

    assert rec.__dict__["job"] == "chosen by the caller"
    assert rec.__dict__["job_id"] == 7


def test_filter_adds_only_the_request_id_outside_jobs() -> None:
    with request_scope("req-1"):
        rec = record()
        JobContextFilter().filter(rec)

    assert rec.__dict__["request_id"] == "req-1"
    assert "job_id" not in rec.__dict__


def test_filter_adds_nothing_outside_jobs_and_requests() -> None:
    rec = record()

    assert JobContextFilter().filter(rec) is True
    assert "request_id" not in rec.__dict__


def test_a_job_scope_makes_its_request_id_current() -> None:
    with job_scope(JobScope(fields={**FIELDS, "request_id": "r9"})):
        assert current_request_id() == "r9"
        assert enqueue_meta() == {"request_id": "r9"}  # a child job inherits it

    assert current_request_id() is None
    assert enqueue_meta() == {}


@pytest.mark.parametrize("value", ["", "has space", "x" * 129, "new\nline", None])
def test_clean_request_id_refuses_unsafe_values(value: str | None) -> None:
    assert clean_request_id(value) is None


def test_request_scope_creates_an_id_when_none_or_a_bad_one_is_given() -> None:
    with request_scope("bad id") as made:
        assert len(made) == 32
        assert current_request_id() == made


def test_json_formatter_writes_one_object_per_line_with_every_field() -> None:
    rec = record("done %d", _private=1, **FIELDS)
    rec.args = (3,)

    line = JsonFormatter().format(rec)

    assert "\n" not in line
    payload = json.loads(line)
    assert payload["message"] == "done 3"
    assert payload["level"] == "INFO"
    assert payload["logger"] == "app"
    assert {k: payload[k] for k in FIELDS} == FIELDS
    assert "_private" not in payload
    assert datetime.fromisoformat(payload["time"]).tzinfo is not None


def test_json_formatter_includes_the_exception() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        rec = logging.getLogger("app").makeRecord("app", 40, "f.py", 1, "failed", (), exc_info())

    payload = json.loads(JsonFormatter().format(rec))

    assert "ValueError: bad" in payload["exception"]


def test_console_formatter_appends_the_job_fields_in_a_fixed_order() -> None:
    line = ConsoleFormatter().format(record("working", request_id="r1", **FIELDS))

    assert line.endswith(
        "INFO    app: working [job_id=7 job=app.extract queue=ai attempt=2 worker=w1 request_id=r1]"
    )
    assert ConsoleFormatter().format(record("plain")).endswith("app: plain")


@pytest.fixture
def lines() -> list[Line]:
    return []


def context(capture: list[Line] | None) -> JobContext:
    def sink(levelno: int, level: str, logger: str, message: str, created: float) -> None:
        assert capture is not None
        capture.append((levelno, level, logger, message, created))

    identity = JobIdentity(7, "app.extract", "ai", 2, "w1")
    return JobContext(identity, request_id="r1", capture=sink if capture is not None else None)


def test_ctx_log_stores_formatted_lines_whatever_the_logger_level(
    lines: list[Line], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="medley.job")
    ctx = context(lines)

    ctx.log.info("split into %d fragments", 12)
    ctx.log.debug("detail")

    assert [(level, logger, message) for _, level, logger, message, _ in lines] == [
        ("INFO", "medley.job", "split into 12 fragments"),
        ("DEBUG", "medley.job", "detail"),
    ]
    assert caplog.records == []  # the host's level still decides what its handlers see


def test_ctx_log_records_carry_the_fields_and_the_jobs_line(
    lines: list[Line], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="medley.job")

    context(lines).log.warning("careful")

    [rec] = caplog.records
    assert {k: rec.__dict__[k] for k in FIELDS} == FIELDS
    assert rec.__dict__["request_id"] == "r1"
    assert rec.funcName == "test_ctx_log_records_carry_the_fields_and_the_jobs_line"


def test_ctx_log_exception_stores_the_traceback(lines: list[Line]) -> None:
    ctx = context(lines)
    try:
        raise KeyError("doc")
    except KeyError:
        ctx.log.exception("lookup failed")

    message = lines[0][3]
    assert message.startswith("lookup failed\nTraceback")
    assert "KeyError: 'doc'" in message


def test_ctx_log_without_capture_only_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="medley.job")

    context(None).log.info("hello")

    assert [r.getMessage() for r in caplog.records] == ["hello"]


def test_capture_handler_stores_other_records_only_when_capturing_all(
    lines: list[Line],
) -> None:
    def sink(levelno: int, level: str, logger: str, message: str, created: float) -> None:
        lines.append((levelno, level, logger, message, created))

    handler = JobLogCaptureHandler()
    with job_scope(JobScope(fields=FIELDS, capture=sink, capture_all=False)):
        handler.emit(record("not captured"))
    with job_scope(JobScope(fields=FIELDS, capture=sink, capture_all=True)):
        handler.emit(record("captured"))
        handler.emit(record("from ctx.log", _medley_captured=True))
    handler.emit(record("outside any job"))

    assert [line[3] for line in lines] == ["captured"]


def test_install_log_context_adds_one_filter_per_handler() -> None:
    handler = logging.NullHandler()
    logger = logging.getLogger("tests.unit.install")
    logger.addHandler(handler)
    try:
        install_log_context()
        install_log_context()
        assert sum(isinstance(f, JobContextFilter) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)


def add(collector: JobLogCollector, job_id: int, *messages: str) -> None:
    for message in messages:
        collector.add(job_id, 1, "INFO", "medley.job", message, 0.0)


def test_collector_gives_positions_after_the_last_stored_line() -> None:
    collector = JobLogCollector()
    add(collector, 1, "a", "b")
    add(collector, 2, "c")

    entries = collector.entries(collector.drain())

    assert [(e.job_id, e.message, e.pos) for e in entries] == [
        (1, "a", 1),
        (1, "b", 2),
        (2, "c", 1),
    ]
    assert entries[0].at == datetime.fromtimestamp(0, UTC)
    assert collector.entries(collector.drain()) == []


def test_collector_drops_the_oldest_lines_past_the_bounds_and_counts_them() -> None:
    collector = JobLogCollector(JobLogConfig(max_lines=3))
    add(collector, 1, *[str(i) for i in range(10)])

    entries = collector.entries(collector.drain())

    assert [(e.message, e.pos) for e in entries] == [("7", 8), ("8", 9), ("9", 10)]


def test_collector_bounds_bytes_and_cuts_long_lines() -> None:
    collector = JobLogCollector(JobLogConfig(max_bytes=100, max_line_bytes=40))
    add(collector, 1, "x" * 1000, "y" * 30, "z" * 30)

    entries = collector.entries(collector.drain())

    assert entries[0].message.startswith("x")
    assert entries[0].message.endswith("bytes cut]")
    assert len(entries[0].message.encode()) <= 40
    assert [e.message[0] for e in entries] == ["x", "y", "z"]


def test_collector_keeps_lines_whose_write_failed_before_newer_ones() -> None:
    collector = JobLogCollector(JobLogConfig(max_lines=3))
    add(collector, 1, "a", "b")
    failed = collector.drain()
    add(collector, 1, "c", "d")

    collector.put_back(failed)
    entries = collector.entries(collector.drain())

    assert [(e.message, e.pos) for e in entries] == [("b", 2), ("c", 3), ("d", 4)]


def test_collector_level_and_capture_off() -> None:
    collector = JobLogCollector(JobLogConfig(level=logging.WARNING))
    sink = collector.sink(1, 1)
    assert sink is not None
    sink(logging.INFO, "INFO", "x", "quiet", 0.0)
    sink(logging.ERROR, "ERROR", "x", "loud", 0.0)

    assert [e.message for e in collector.entries(collector.drain())] == ["loud"]
    assert JobLogCollector(JobLogConfig(capture="off")).sink(1, 1) is None


@pytest.mark.parametrize(
    "bad", [{"capture": "some"}, {"max_lines": 0}, {"max_bytes": 0}, {"flush_seconds": 0}]
)
def test_job_log_config_refuses_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"capture|bounds|flush"):
        JobLogConfig(**bad)  # type: ignore[arg-type]  # deliberately wrong values
