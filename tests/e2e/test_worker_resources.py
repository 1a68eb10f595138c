"""`medley worker` resource options end to end: `--queues NAME[:SLOTS][@WEIGHT]` parsing
(one clear line on bad syntax), and a supervisor passing slots and throttling thresholds
to each child process, which reports them in its heartbeat."""

from __future__ import annotations

import signal

import pytest

import medley
from medley.application.models.servers import QueueSlots
from tests.e2e.conftest import MedleyCli
from tests.e2e.test_bad_input import assert_one_line_error
from tests.support.wait import wait_for

pytestmark = pytest.mark.e2e

IMPORT = ("--import", "tests.e2e.jobs")
START_TIMEOUT = 20.0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ("--queues", "ai:x,default"),
            "invalid queue 'ai:x': expected NAME[:SLOTS][@WEIGHT]",
            id="syntax",
        ),
        pytest.param(("--queues", "ai:0"), "slots must be at least 1", id="zero-slots"),
        pytest.param(("--queues", "ai,ai:2"), "queue 'ai' is listed twice", id="twice"),
        pytest.param(("--queue-mode", "random"), "invalid setting queue_mode", id="mode"),
        pytest.param(("--max-rss-mb", "0"), "invalid setting max_rss_mb", id="threshold"),
    ],
)
async def test_bad_worker_resource_options_fail_with_one_line(
    cli: MedleyCli, args: tuple[str, ...], expected: str
) -> None:
    result = await cli.run("worker", *IMPORT, *args)

    assert_one_line_error(result, expected)
    assert result.code == 2


async def test_supervised_workers_serve_queue_slots_and_throttle_thresholds(
    cli: MedleyCli, service: medley.JobService
) -> None:
    supervisor = await cli.start(
        "worker", *IMPORT, "--queues", "ai:1,default:2", "--processes", "2", "--max-rss-mb", "1"
    )
    expected = {"ai": QueueSlots(busy=0, max=1), "default": QueueSlots(busy=0, max=2)}

    async def two_registered() -> bool:
        return len(await service.server_list()) == 2

    await wait_for(two_registered, timeout=START_TIMEOUT, message="two worker processes")
    servers = await service.server_list()

    assert {s.concurrency for s in servers} == {3}, supervisor.log()
    assert all(s.slots == expected for s in servers), servers
    assert all(s.throttled for s in servers), servers
    assert all((s.throttle_reason or "").startswith("rss ") for s in servers), servers
    assert await supervisor.stop(signal.SIGTERM, timeout=15) == 0, supervisor.log()
    assert "throttled: rss" in supervisor.log()
