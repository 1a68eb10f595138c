"""Logging inside real jobs: every record carries the job's fields (JSON format), `ctx.log`
lines are stored with the job (bounded), and one request id follows an HTTP enqueue into
the job's records."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

import medley
from medley.application.models.jobs import JobState
from medley.infrastructure.logs import JsonFormatter
from medley.infrastructure.observability.joblog import JobLogConfig
from medley.web.api import logs as logs_api
from medley.web.auth.principal import Principal, Role
from medley.web.errors import install_error_handlers
from medley.web.request_id import RequestIdMiddleware
from tests.integration import observability_jobs as jobs
from tests.support.http import serve
from tests.support.wait import wait_for
from tests.support.workers import StartWorker

pytestmark = pytest.mark.integration

FAST_LOGS = JobLogConfig(flush_seconds=0.05)
JOB_FIELDS = {"job_id", "job", "queue", "attempt", "worker"}


class Lines(logging.Handler):
    """A host application's own handler: JSON lines into a list."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def by_message(self, message: str) -> dict[str, Any]:
        found = [line for line in self.lines if line["message"] == message]
        assert found, f"no record {message!r} among {[x['message'] for x in self.lines]}"
        return found[-1]


@pytest.fixture
def host_logging() -> Iterator[Lines]:
    """The host configured logging before starting a worker; Medley adds nothing to it
    but a filter."""
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def finished(service: medley.JobService, job_id: int) -> medley.JobInfo:
    info = await service.wait(job_id, timeout=10)
    return info


async def test_every_record_logged_inside_a_job_carries_the_job_fields(
    service: medley.JobService, start_worker: StartWorker, host_logging: Lines
) -> None:
    worker = await start_worker(job_logs=FAST_LOGS)
    job_id = await service.enqueue(jobs.chatty, lines=1)
    info = await finished(service, job_id)
    assert info.state is JobState.SUCCEEDED

    for message in ("line 1 of 1", "from the job's own logger", "from a library"):
        record = host_logging.by_message(message)
        assert record["job_id"] == job_id
        assert record["job"] == "obs.chatty"
        assert record["queue"] == "default"
        assert record["attempt"] == 1
        assert record["worker"] == worker.worker_id
        assert {"time", "level", "logger"} <= record.keys()
    assert host_logging.by_message("from a library")["logger"] == "obs.library"


async def test_records_of_a_sync_job_in_a_thread_carry_the_job_fields(
    service: medley.JobService, start_worker: StartWorker, host_logging: Lines
) -> None:
    await start_worker(job_logs=FAST_LOGS)
    job_id = await service.enqueue(jobs.sync_chatty)
    await finished(service, job_id)

    record = host_logging.by_message("library call in a thread")
    assert record.keys() >= JOB_FIELDS
    assert record["job_id"] == job_id


async def test_records_and_lines_of_a_cpu_bound_job_in_a_child_process_come_back(
    service: medley.JobService, start_worker: StartWorker, host_logging: Lines
) -> None:
    worker = await start_worker(job_logs=FAST_LOGS, cpu_processes=1)
    job_id = await service.enqueue(jobs.cpu_chatty)
    info = await finished(service, job_id)
    assert info.state is JobState.SUCCEEDED, info.error

    record = host_logging.by_message("library call in a child process")
    assert record["job_id"] == job_id
    assert record["worker"] == worker.worker_id
    assert record["logger"] == "obs.library"
    assert host_logging.by_message("in a child process")["attempt"] == 1

    async def stored() -> bool:
        return bool((await service.job_logs(job_id)).lines)

    await wait_for(stored)
    assert [line.message for line in (await service.job_logs(job_id)).lines] == [
        "in a child process"
    ]


async def test_records_outside_jobs_carry_no_job_fields(
    service: medley.JobService, start_worker: StartWorker, host_logging: Lines
) -> None:
    await start_worker(job_logs=FAST_LOGS)

    jobs.library.warning("between jobs")

    assert not JOB_FIELDS & host_logging.by_message("between jobs").keys()


async def test_ctx_log_lines_are_stored_with_the_job(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(job_logs=FAST_LOGS)
    job_id = await service.enqueue(jobs.chatty, lines=3)
    await finished(service, job_id)

    async def stored() -> bool:
        return len((await service.job_logs(job_id)).lines) == 3

    await wait_for(stored)
    logs = await service.job_logs(job_id)
    assert [line.message for line in logs.lines] == ["line 1 of 3", "line 2 of 3", "line 3 of 3"]
    assert {line.level for line in logs.lines} == {"INFO"}  # DEBUG and other loggers: no
    assert all(line.attempt == 1 and line.logger == "medley.job" for line in logs.lines)
    assert logs.dropped == 0


async def test_a_logged_exception_is_stored_with_its_traceback(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(job_logs=FAST_LOGS)
    job_id = await service.enqueue(jobs.broken)
    await finished(service, job_id)

    async def stored() -> bool:
        return bool((await service.job_logs(job_id)).lines)

    await wait_for(stored)
    [line] = (await service.job_logs(job_id)).lines
    assert line.level == "ERROR"
    assert line.message.startswith("could not parse\nTraceback")
    assert "ValueError: bad input" in line.message


async def test_job_logs_keep_the_newest_lines_and_count_the_dropped_ones(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(job_logs=JobLogConfig(flush_seconds=0.05, max_lines=10))
    job_id = await service.enqueue(jobs.chatty, lines=50)
    await finished(service, job_id)

    async def stored() -> bool:
        return (await service.job_logs(job_id)).dropped == 40

    await wait_for(stored)
    logs = await service.job_logs(job_id)
    assert [line.message for line in logs.lines] == [f"line {i} of 50" for i in range(41, 51)]
    assert [line.seq for line in logs.lines] == list(range(41, 51))


async def test_capture_all_stores_records_of_every_logger_once(
    service: medley.JobService, start_worker: StartWorker, host_logging: Lines
) -> None:
    await start_worker(job_logs=JobLogConfig(flush_seconds=0.05, capture="all"))
    job_id = await service.enqueue(jobs.chatty, lines=1)
    await finished(service, job_id)

    expected = ["line 1 of 1", "from the job's own logger", "from a library"]

    async def stored() -> bool:
        return len((await service.job_logs(job_id)).lines) == len(expected)

    await wait_for(stored)
    logs = await service.job_logs(job_id)
    assert [line.message for line in logs.lines] == expected
    assert logs.lines[2].logger == "obs.library"


async def test_capture_off_stores_nothing(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    worker = await start_worker(job_logs=JobLogConfig(flush_seconds=0.05, capture="off"))
    job_id = await service.enqueue(jobs.chatty, lines=2)
    await finished(service, job_id)
    await worker.job_log_flusher.run_once()

    assert (await service.job_logs(job_id)).lines == []


async def test_job_logs_of_an_unknown_job_raise_not_found(service: medley.JobService) -> None:
    with pytest.raises(medley.JobNotFoundError):
        await service.job_logs(123456)


def tiny_app(service: medley.JobService) -> FastAPI:
    """What a host application does: its own enqueue endpoint, Medley's middleware, and
    the job logs API (with the host's own authorization)."""
    app = FastAPI()
    app.state.service = service
    app.state.api_authorize = lambda _request: Principal("host", Role.VIEWER, via="host")
    app.include_router(logs_api.router)
    install_error_handlers(app)

    @app.post("/documents/{document_id}/extract")
    async def extract(document_id: int, request: Request) -> dict[str, int]:
        logging.getLogger("host.web").warning("enqueueing extraction of %d", document_id)
        return {"job_id": await service.enqueue(jobs.chatty, lines=document_id)}

    app.add_middleware(RequestIdMiddleware)
    return app


async def test_the_request_id_of_an_http_enqueue_follows_into_the_jobs_records(
    service: medley.JobService, start_worker: StartWorker, host_logging: Lines
) -> None:
    await start_worker(job_logs=FAST_LOGS)
    async with serve(tiny_app(service)) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/documents/2/extract", headers={"X-Request-ID": "req-7f3a9c"})
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "req-7f3a9c"
        job_id = response.json()["job_id"]
        await finished(service, job_id)

        web_record = host_logging.by_message("enqueueing extraction of 2")
        job_record = host_logging.by_message("line 2 of 2")
        assert web_record["request_id"] == "req-7f3a9c"
        assert "job_id" not in web_record
        assert job_record["request_id"] == "req-7f3a9c"
        assert job_record["job_id"] == job_id
        assert host_logging.by_message("from a library")["request_id"] == "req-7f3a9c"

        logs = await client.get(f"/api/jobs/{job_id}/logs")
        assert logs.status_code == 200
        assert logs.json()["job_id"] == job_id


async def test_a_request_without_an_id_gets_a_new_one(service: medley.JobService) -> None:
    async with serve(tiny_app(service)) as url, httpx.AsyncClient(base_url=url) as client:
        first = await client.post("/documents/1/extract")
        second = await client.post("/documents/1/extract", headers={"X-Request-ID": "a b"})

    assert len(first.headers["x-request-id"]) == 32
    assert second.headers["x-request-id"] not in ("a b", first.headers["x-request-id"])
    row = await service.store.job_get(first.json()["job_id"])
    assert row is not None
    assert row.meta == {"request_id": first.headers["x-request-id"]}


async def test_the_job_logs_api_pages_and_answers_404(
    service: medley.JobService, start_worker: StartWorker
) -> None:
    await start_worker(job_logs=FAST_LOGS)
    job_id = await service.enqueue(jobs.chatty, lines=5)
    await finished(service, job_id)

    async def stored() -> bool:
        return len((await service.job_logs(job_id)).lines) == 5

    await wait_for(stored)
    async with serve(tiny_app(service)) as url, httpx.AsyncClient(base_url=url) as client:
        page = (await client.get(f"/api/jobs/{job_id}/logs", params={"limit": 2})).json()
        rest = await client.get(f"/api/jobs/{job_id}/logs", params={"after": page["next_after"]})
        missing = await client.get("/api/jobs/987654/logs")

    assert [line["message"] for line in page["lines"]] == ["line 1 of 5", "line 2 of 5"]
    assert [line["seq"] for line in rest.json()["lines"]] == [3, 4, 5]
    assert rest.json()["next_after"] is None
    assert missing.status_code == 404
