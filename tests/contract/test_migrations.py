from __future__ import annotations

import asyncio

import pytest

from medley.application.errors import MigrationRequiredError, SchemaTooNewError
from medley.infrastructure.jobs.storage.port import JobStore
from tests.support.backends import Backend

pytestmark = pytest.mark.contract


async def test_migration_apply_returns_nothing_when_schema_is_current(store: JobStore) -> None:
    assert await store.migration_apply() == []
    assert await store.migration_apply() == []


async def test_migration_check_passes_after_migrating(store: JobStore) -> None:
    await store.migration_check()


async def test_migration_check_raises_on_an_empty_database(
    store: JobStore, backend: Backend
) -> None:
    empty = await backend.open_empty_store()

    with pytest.raises(MigrationRequiredError) as raised:
        await empty.migration_check()

    assert not isinstance(raised.value, SchemaTooNewError)


async def test_migration_apply_on_an_empty_database_applies_every_version(
    store: JobStore, backend: Backend
) -> None:
    empty = await backend.open_empty_store()

    applied = await empty.migration_apply()

    assert applied == list(range(1, len(applied) + 1))
    assert applied, "a fresh database needs at least the initial migration"
    await empty.migration_check()
    assert await empty.migration_apply() == []


async def test_migration_apply_raises_when_schema_is_newer_than_the_code(
    store: JobStore, backend: Backend
) -> None:
    backend.record_migration(999, "from_the_future")

    with pytest.raises(SchemaTooNewError) as raised:
        await store.migration_apply()

    assert raised.value.applied == 999


async def test_migration_check_raises_when_schema_is_newer_than_the_code(
    store: JobStore, backend: Backend
) -> None:
    backend.record_migration(999, "from_the_future")

    with pytest.raises(SchemaTooNewError):
        await store.migration_check()


async def test_migration_apply_applies_each_version_once_when_run_concurrently(
    store: JobStore, backend: Backend
) -> None:
    first, second = await backend.open_empty_stores(2)

    outcomes = await asyncio.gather(first.migration_apply(), second.migration_apply())

    assert sorted(outcomes, key=len)[0] == []
    assert sorted(outcomes, key=len)[1]
    await first.migration_check()
    await second.migration_check()
