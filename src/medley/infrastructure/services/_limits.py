"""Named limits on `JobService`: read and change the definitions every worker reads from
the database (`medley limits list|set|remove` and the REST API call these)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from medley.application.errors import ConfigError, LimitNotFoundError
from medley.application.models.limits import LimitInfo
from medley.infrastructure.jobs.storage.limit_records import PERIOD_SECONDS_DEFAULT
from medley.infrastructure.jobs.storage.port import JobStore, LimitParams, LimitRow


class LimitMethods:
    """`limit_list`, `limit_get`, `limit_set`, `limit_remove`."""

    store: JobStore

    if TYPE_CHECKING:

        async def open(self) -> object: ...

    async def limit_list(self) -> list[LimitInfo]:
        """Every defined limit by name, with the slots, starts and tokens in use now."""
        await self.open()
        return [limit_info(row) for row in await self.store.limit_list()]

    async def limit_get(self, name: str) -> LimitInfo | None:
        """One limit by name, or None."""
        return next((info for info in await self.limit_list() if info.name == name), None)

    async def limit_set(
        self,
        name: str,
        max_running: int | None = None,
        *,
        rate: int | None = None,
        period: float | timedelta = PERIOD_SECONDS_DEFAULT,
        tokens: int | None = None,
    ) -> LimitInfo:
        """Define or change a limit at run time: at most `max_running` running, `rate`
        starts and `tokens` tokens per `period` (seconds or a timedelta), each None for
        unbounded, replacing the whole definition. Every worker applies it at its next
        fetch, and workers starting later keep it over the value declared in code.
        Lowering it stops new starts until usage is below it (none is interrupted).
        Raises `ConfigError` for an empty name or a bound out of range."""
        seconds = period.total_seconds() if isinstance(period, timedelta) else float(period)
        if not name:
            raise ConfigError("a limit needs a name")
        try:
            params = LimitParams(
                name=name,
                max_running=max_running,
                rate=rate,
                tokens=tokens,
                period_seconds=seconds,
            )
        except ValueError as exc:
            raise ConfigError(f"limit {name!r}: {exc}") from None
        await self.open()
        await self.store.limit_upsert(params)
        info = await self.limit_get(name)
        if info is None:  # removed by someone else between our write and this read
            raise LimitNotFoundError(name)
        return info

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
        rate=row.rate,
        tokens=row.tokens,
        period_seconds=row.period_seconds,
        starts_used=row.starts_used,
        tokens_used=row.tokens_used,
        blocked_until=row.blocked_until
        if row.blocked_until is not None and row.blocked_until > datetime.now(UTC)
        else None,  # a block that has passed is history, not state
    )
