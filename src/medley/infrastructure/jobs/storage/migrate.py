"""The one rule for comparing a database's applied migrations with the code's."""

from __future__ import annotations

from collections.abc import Collection

from medley.application.errors import MigrationRequiredError, SchemaTooNewError


def check_applied(applied: Collection[int], known: Collection[int]) -> None:
    """Raise unless every known migration is applied and none is newer than the code."""
    newest_known = max(known, default=0)
    newest_applied = max(applied, default=0)
    if newest_applied > newest_known:
        raise SchemaTooNewError(newest_applied, newest_known)
    missing = sorted(set(known) - set(applied))
    if missing:
        raise MigrationRequiredError(
            f"the database schema is at version {newest_applied}, this Medley needs "
            f"{newest_known} (missing {', '.join(map(str, missing))}): run `medley migrate`"
        )
