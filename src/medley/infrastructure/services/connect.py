"""Building a ready `JobService` from a URL: open the store, then migrate or check."""

from __future__ import annotations

from medley.infrastructure.jobs.payload import DEFAULT_MAX_PAYLOAD_BYTES
from medley.infrastructure.jobs.registry import JobRegistry
from medley.infrastructure.jobs.storage.factory import create_store, is_sqlite
from medley.infrastructure.jobs.storage.port import JobStore
from medley.infrastructure.services.background_job_service import JobService


async def prepare_store(store: JobStore, url: str, *, auto_migrate: bool | None = None) -> None:
    """Open `store` and make sure its schema is current. `auto_migrate` defaults to True on
    SQLite (the embedded default just works) and False on PostgreSQL (`medley migrate`)."""
    await store.open()
    try:
        if auto_migrate if auto_migrate is not None else is_sqlite(url):
            await store.migration_apply()
        else:
            await store.migration_check()
    except BaseException:
        await store.close()
        raise


async def open_store(url: str, *, auto_migrate: bool | None = None, pool_max: int = 10) -> JobStore:
    """An open store for `url` whose schema is current."""
    store = create_store(url, pool_max=pool_max)
    await prepare_store(store, url, auto_migrate=auto_migrate)
    return store


def connect(
    url: str,
    *,
    registry: JobRegistry | None = None,
    auto_migrate: bool | None = None,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> JobService:
    """A service for `url` that connects on first use (so it can be built at import time
    or outside an event loop). Raises `InvalidDatabaseUrlError` at once for a bad URL."""
    store = create_store(url)
    return JobService(
        store,
        registry,
        max_payload_bytes=max_payload_bytes,
        prepare=lambda: prepare_store(store, url, auto_migrate=auto_migrate),
    )


async def connect_async(
    url: str,
    *,
    registry: JobRegistry | None = None,
    auto_migrate: bool | None = None,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> JobService:
    """Connect to `postgresql://...` or `sqlite:///path.db`; close with `await close()`."""
    store = await open_store(url, auto_migrate=auto_migrate)
    return JobService(store, registry, max_payload_bytes=max_payload_bytes)
