"""`medley demo` runs the bundled pipeline to the end on its own SQLite file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import MedleyCli

pytestmark = pytest.mark.e2e


def _metric(output: str, name: str) -> int:
    found = re.search(rf"^\W*{re.escape(name)}\W+([\d,]+)\W*$", output, re.MULTILINE)
    assert found, f"no {name!r} in the summary:\n{output}"
    return int(found.group(1).replace(",", ""))


async def test_demo_runs_every_job_to_success(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    cli = MedleyCli(f"sqlite:///{database}", tmp_path)

    result = await cli.run("demo", "--database-url", cli.url, timeout=60)

    assert result.code == 0, result
    jobs = _metric(result.stdout, "jobs run")
    assert jobs > 12, result
    assert _metric(result.stdout, "succeeded") == jobs, result
    assert _metric(result.stdout, "failed") == 0, result
    assert _metric(result.stdout, "retried attempts") >= 1, result
    assert _metric(result.stdout, "fragments") > 0, result
    assert "Top 3 fragments" in result.stdout, result
    assert database.exists()
    assert "Traceback" not in result.stderr
