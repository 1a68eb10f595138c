"""A short chaos run in the suite: 300 jobs on 2 worker processes, two `kill -9`s and
terminated database backends in between; then the same invariants as `make chaos`."""

from __future__ import annotations

from pathlib import Path

import pytest
from tools.chaos.monkey import MonkeyConfig
from tools.chaos.scenario import ChaosConfig, run_chaos

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.timeout(90)]


async def test_kills_lose_nothing_and_duplicate_only_what_they_hit(
    pg_url: str, tmp_path: Path
) -> None:
    cfg = ChaosConfig(
        database_url=pg_url,
        log_dir=tmp_path,
        jobs=300,
        processes=2,
        concurrency=3,
        slow_fraction=0.1,  # enough 1-2 s jobs that both kills hit running work
        seed=7,
        deadline=60.0,
        monkey=MonkeyConfig(kill_every=2.0, max_kills=2),
    )
    lines: list[str] = []
    result = await run_chaos(cfg, emit=lines.append)
    f = result.findings
    failed = [f"{name}: {detail}" for name, passed, detail in result.checks() if not passed]
    assert not failed, "\n".join([*failed, *lines])
    assert result.kills == 2
    assert result.terminated_backends >= 1
    assert f.states == {"succeeded": 300}
    assert not f.lost
    assert not f.dup_unexpected
    assert f.dup_killed_running + f.dup_outcome_lost >= 1  # the kills did hit running jobs
    assert f.rescues, "no rescue was observed"
    assert max(r.delay for r in f.rescues) < cfg.lease + cfg.poll + 5.0
