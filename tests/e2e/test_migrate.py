"""`medley migrate`: idempotent, and refuses a schema newer than the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import MedleyCli
from tests.support.backends import Backend, PostgresBackend, SqliteBackend

pytestmark = pytest.mark.e2e


def _raw_backend(url: str) -> Backend:
    if url.startswith("sqlite:///"):
        return SqliteBackend(Path(url.removeprefix("sqlite:///")))
    return PostgresBackend(url)


async def test_migrate_twice_applies_then_reports_up_to_date(
    empty_db_url: str, tmp_path: Path
) -> None:
    cli = MedleyCli(empty_db_url, tmp_path)

    first = await cli.run("migrate")
    second = await cli.run("migrate")

    assert first.code == 0, first
    assert "applied migrations 1" in first.stdout, first
    assert second.code == 0, second
    assert "up to date" in second.stdout, second


async def test_migrate_refuses_a_schema_newer_than_the_code(cli: MedleyCli) -> None:
    assert (await cli.run("migrate")).code == 0
    _raw_backend(cli.url).record_migration(999, "from_the_future")

    result = await cli.run("migrate")

    assert result.code != 0, result
    assert len(result.stderr.strip().splitlines()) == 1, result
    assert "999" in result.stderr, result
    assert "Traceback" not in result.stdout + result.stderr
