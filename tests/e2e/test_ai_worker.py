"""A plain `medley worker --import medley.infrastructure.ai.jobs` runs the fragment
pipeline on its own database: the application does not have to configure the AI jobs."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

import medley
from medley.infrastructure.ai import jobs as ai_jobs
from tests.e2e.conftest import MedleyCli

pytestmark = pytest.mark.e2e

TEXT = """# Tides

The moon pulls the sea into a bulge on the side of the earth that faces it.

The earth turns beneath that bulge, so most coasts see two high tides a day.
"""


async def test_a_plain_worker_runs_the_ai_pipeline_end_to_end(
    cli: MedleyCli, service: medley.JobService, tmp_path: Path
) -> None:
    document = tmp_path / "tides.md"
    document.write_text(TEXT, encoding="utf-8")
    job_id = await service.enqueue(ai_jobs.EXTRACT, str(document))
    worker = await cli.start(
        "worker", "--import", "medley.infrastructure.ai.jobs", "--queues", "ai,default"
    )

    info = await service.wait(job_id, timeout=60)

    assert info.state is medley.JobState.SUCCEEDED, worker.log()
    assert info.result["fragments"] >= 1
    assert await worker.stop(signal.SIGTERM, timeout=15) == 0, worker.log()
    assert "not configured" not in worker.log()
