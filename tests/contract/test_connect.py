from __future__ import annotations

import pytest

from medley.application.errors import StorageUnavailableError
from medley.infrastructure.jobs.storage.port import JobStore
from tests.support.backends import Backend

pytestmark = pytest.mark.contract


async def test_open_raises_storage_unavailable_when_the_database_cannot_be_reached(
    store: JobStore, backend: Backend
) -> None:
    unreachable = backend.unreachable_store()

    with pytest.raises(StorageUnavailableError):
        await unreachable.open()

    await unreachable.close()


async def test_capabilities_name_the_backend(store: JobStore) -> None:
    assert store.capabilities.name
    assert isinstance(store.capabilities.listen_notify, bool)
