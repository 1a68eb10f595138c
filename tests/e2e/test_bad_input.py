"""Bad input exits non-zero with exactly one line on stderr, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import MedleyCli, Result

pytestmark = pytest.mark.e2e

IMPORT = ("--import", "tests.e2e.jobs")


def assert_one_line_error(result: Result, expected: str) -> None:
    assert result.code != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result
    assert expected in lines[0], result
    assert "Traceback" not in result.stdout + result.stderr, result


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("jobs", "enqueue", "e2e.nope", *IMPORT), "unknown job 'e2e.nope'", id="job"),
        pytest.param(
            ("jobs", "enqueue", "e2e.add", "--args", "not json", *IMPORT),
            "must be JSON",
            id="args",
        ),
        pytest.param(("jobs", "show", "999999"), "job 999999 not found", id="show"),
    ],
)
async def test_bad_request_fails_with_one_line(
    cli: MedleyCli, args: tuple[str, ...], expected: str
) -> None:
    assert_one_line_error(await cli.run(*args), expected)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("mysql://x", "invalid database URL 'mysql://x'", id="malformed"),
        pytest.param(
            "postgresql://postgres@127.0.0.1:1/x", "PostgreSQL unavailable", id="unreachable"
        ),
    ],
)
async def test_bad_database_url_fails_with_one_line(
    tmp_path: Path, url: str, expected: str
) -> None:
    cli = MedleyCli(url, tmp_path)

    assert_one_line_error(await cli.run("jobs", "list"), expected)
