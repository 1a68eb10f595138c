from __future__ import annotations

import pytest

from medley.application.models.jobs import JobState
from medley.infrastructure.jobs.storage.port import InsertedRun, JobInsertResult

pytestmark = pytest.mark.unit


def test_an_inserted_run_reads_as_the_list_of_its_results() -> None:
    ids = range(10, 15)
    expected = [JobInsertResult(i, JobState.SCHEDULED, False) for i in ids]

    run = InsertedRun(ids, JobState.SCHEDULED)

    assert (len(run), list(run), run.ids) == (5, expected, ids)
    assert (run[0], run[-1], list(run[1:4]), list(run[::-2])) == (
        expected[0],
        expected[-1],
        expected[1:4],
        expected[::-2],
    )
    with pytest.raises(IndexError):
        run[5]
