"""The SQL-only ceiling (`shared/tools/sql-ceiling/run.sh N`): pgbench clients draining
N jobs with no Python in the loop, on its own fresh database with the same
synchronous_commit as the systems under test."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.harness import drop_database, recreate_database

CEILING_DB = "bench_ceiling"
_LINE = re.compile(r"batch=\s*(\d+)\s+clients=(\d+)\s+succeeded=(\d+)\s+jobs/s=(\d+)")


@dataclasses.dataclass(frozen=True)
class CeilingRow:
    batch: int
    clients: int
    succeeded: int
    jobs_per_s: float


def find_script() -> Path | None:
    """`MEDLEY_SQL_CEILING`, else `shared/` beside the repository, else /work/shared."""
    candidates = []
    if env := os.environ.get("MEDLEY_SQL_CEILING"):
        candidates.append(Path(env))
    repo = Path(__file__).resolve().parent.parent
    candidates += [
        repo.parent / "shared" / "tools" / "sql-ceiling" / "run.sh",
        Path("/work/shared/tools/sql-ceiling/run.sh"),
    ]
    return next((c for c in candidates if c.is_file()), None)


def parse(output: str) -> list[CeilingRow]:
    return [
        CeilingRow(int(m[1]), int(m[2]), int(m[3]), float(m[4])) for m in _LINE.finditer(output)
    ]


async def run_ceiling(base_url: str, jobs: int, *, durable: bool) -> list[CeilingRow]:
    script = find_script()
    if script is None:
        raise FileNotFoundError("sql-ceiling/run.sh not found (set MEDLEY_SQL_CEILING)")
    await recreate_database(base_url, CEILING_DB, durable=durable)
    parts = urlsplit(base_url)
    env = dict(os.environ)
    env.update(
        CEILING_DB=CEILING_DB,
        PGHOST=parts.hostname or "127.0.0.1",
        PGPORT=str(parts.port or 5432),
        PGUSER=parts.username or "postgres",
    )
    if parts.password:
        env["PGPASSWORD"] = parts.password
    if not durable:
        env["PGOPTIONS"] = "-c synchronous_commit=off"
    try:
        proc = await asyncio.create_subprocess_exec(
            "bash",
            str(script),
            str(jobs),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 300)
    finally:
        await drop_database(base_url, CEILING_DB)
    rows = parse(out.decode(errors="replace"))
    if proc.returncode != 0 or not rows:
        tail = out.decode(errors="replace")[-500:]
        raise RuntimeError(f"sql-ceiling failed (exit {proc.returncode}): {tail}")
    return rows
