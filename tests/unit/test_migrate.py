from __future__ import annotations

import pytest

from medley.application.errors import MigrationRequiredError, SchemaTooNewError
from medley.infrastructure.jobs.storage.migrate import check_applied

pytestmark = pytest.mark.unit


def test_all_known_migrations_applied_passes() -> None:
    check_applied([1, 2, 4], [1, 2, 4])


def test_a_missing_migration_is_required_even_below_the_newest() -> None:
    with pytest.raises(MigrationRequiredError, match="missing 2"):
        check_applied([1, 4], [1, 2, 4])


def test_an_empty_database_needs_migrating() -> None:
    with pytest.raises(MigrationRequiredError, match="medley migrate"):
        check_applied([], [1])


def test_a_database_ahead_of_the_code_is_refused() -> None:
    with pytest.raises(SchemaTooNewError) as caught:
        check_applied([1, 2, 9], [1, 2])
    assert (caught.value.applied, caught.value.known) == (9, 2)
