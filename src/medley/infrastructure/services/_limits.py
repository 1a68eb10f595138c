"""Concurrency limits on `JobService`: read and change the definitions every worker
reads from the database (`medley limits list|set|remove` calls these)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from medley.application.errors import ConfigError
from medley.application.models.limits import LimitInfo
from medley.infrastructure.jobs.storage.port import JobStore, LimitParams, LimitRow


class LimitMethods:
    """`limit_list`, `limit_set`, `limit_remove`."""

    store: JobStore

    if TYPE_CHECKING:

        async def open(self) -> object: ...

    async def limit_list(self) -> list[LimitInfo]:
        """Every defined limit by name, with the slots in use now."""
        await self.open()
        return [limit_info(row) for row in await self.store.limit_list()]

    async def limit_set(self, name: str, max_running: int) -> LimitInfo:
        """Define or change a limit at run time; every worker applies it at its next fetch,
        and workers starting later keep it over the value declared in code. Lowering it
        stops new starts until the running jobs are below it (none is interrupted).
        Raises `ConfigError` for a negative value or an empty name."""
        if not name or max_running < 0:
            raise ConfigError("a limit needs a name and a max_running of 0 or more")
        await self.open()
        await self.store.limit_upsert(LimitParams(name=name, max_running=max_running))
        [row] = [r for r in await self.store.limit_list() if r.name == name]
        return limit_info(row)

    async def limit_remove(self, name: str) -> bool:
        """Forget a limit: its jobs run unlimited until it is defined again (a worker that
        declares it in code defines it again when it starts). False if there was none."""
        await self.open()
        return await self.store.limit_delete(name)


def limit_info(row: LimitRow) -> LimitInfo:
    return LimitInfo(
        name=row.name,
        max_running=row.max_running,
        running=row.running,
        busy_keys=row.busy_keys,
        source=row.source,
        updated_at=row.updated_at,
    )
