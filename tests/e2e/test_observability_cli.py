"""`medley health`, `medley stats` and `medley worker --metrics-port` in subprocesses, on
SQLite and PostgreSQL: exit codes for probes, figures from stored jobs, and metrics that
add up across worker processes."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import medley
from tests.e2e import jobs
from tests.e2e.conftest import MedleyCli
from tests.support.wait import wait_for

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def total(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def test_health_exits_1_without_workers_and_0_when_none_are_expected(
    cli: MedleyCli, service: medley.JobService
) -> None:
    without = await cli.run("health", "--json")
    relaxed = await cli.run("health", "--no-expect-workers")

    assert without.code == 1, without
    report = json.loads(without.stdout)
    assert report["status"] == "fail"
    assert {c["name"]: c["status"] for c in report["checks"]}["workers"] == "fail"
    assert relaxed.code == 0, relaxed
    assert "ready: yes" in relaxed.stdout


async def test_health_exits_1_quickly_for_a_dead_database(cli: MedleyCli) -> None:
    dead_urls = [
        "postgresql://postgres@127.0.0.1:1/medley",
        f"sqlite:///{cli.logs / 'missing-dir' / 'medley.db'}",
    ]
    for url in dead_urls:
        result = await cli.run("health", "--json", "--timeout", "2s", "--database-url", url)

        assert result.code == 1, result
        checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
        assert checks["database"]["status"] == "fail"
        assert checks["migrations"]["status"] == "skip"


async def test_stats_reports_throughput_latency_and_failure_rate_per_job(
    cli: MedleyCli, service: medley.JobService
) -> None:
    port = free_port()
    worker = await cli.start("worker", "--import", "tests.e2e.jobs", "--metrics-port", str(port))
    ids = [await service.enqueue(jobs.add, i, 1) for i in range(4)]
    ids += [await service.enqueue(jobs.fail, "boom") for _ in range(1)]
    for job_id in ids:
        await service.wait(job_id, timeout=30)
    assert await worker.stop() == 0, worker.log()

    table = await cli.run("stats", "--window", "10m")
    as_json = await cli.run("stats", "--window", "10m", "--json", "--job", "e2e.add")

    assert table.code == 0, table
    assert "e2e.add" in table.stdout
    assert "e2e.fail" in table.stdout
    [add] = json.loads(as_json.stdout)["jobs"]
    assert add["job"] == "e2e.add"
    assert (add["finished"], add["succeeded"], add["failed"]) == (4, 4, 0)
    assert add["failure_rate"] == 0
    assert add["run_p50"] is not None
    assert add["run_p50"] <= add["run_p99"] <= add["run_max"]


async def test_stats_rejects_a_bad_window(cli: MedleyCli) -> None:
    result = await cli.run("stats", "--window", "soon")

    assert result.code == 2
    assert "soon" in result.stderr


async def test_worker_processes_metrics_add_up_on_one_port(
    cli: MedleyCli, service: medley.JobService
) -> None:
    port = free_port()
    worker = await cli.start(
        "worker",
        "--import",
        "tests.e2e.jobs",
        "--processes",
        "2",
        "--concurrency",
        "2",
        "--metrics-port",
        str(port),
    )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:

        async def two_workers() -> bool:
            try:
                text = (await client.get("/metrics")).text
            except httpx.TransportError:
                return False
            return total(text, "medley_workers_alive") == 2

        await wait_for(two_workers, timeout=30)
        ids = [await service.enqueue(jobs.add, i, i) for i in range(20)]
        ids += [await service.enqueue(jobs.fail, "boom") for _ in range(3)]
        for job_id in ids:
            await service.wait(job_id, timeout=30)

        async def counted() -> bool:
            text = (await client.get("/metrics")).text
            done = total(text, "medley_jobs_succeeded_total", job="e2e.add")
            return done == 20 and total(text, "medley_jobs_failed_total", job="e2e.fail") == 3

        await wait_for(counted, timeout=10)
        text = (await client.get("/metrics")).text
        ready = await client.get("/health/ready")

    pids = {
        s.labels.get("pid")
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "medley_jobs_succeeded_total"
    }
    assert pids == {None}, "the supervisor serves the sum, not one series per process"
    assert total(text, "medley_job_run_duration_seconds_count", job="e2e.add") == 20
    assert total(text, "medley_jobs", queue="default", state="succeeded") == 20
    assert total(text, "medley_worker_slots") == 4
    assert ready.status_code == 200, ready.text  # workers alive, 3 dead jobs under the limit
    assert await worker.stop() == 0, worker.log()
