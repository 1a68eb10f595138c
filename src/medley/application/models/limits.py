"""Resource management read models: named concurrency limits as the service reports them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class LimitInfo(BaseModel):
    """A named concurrency limit: at most `max_running` of its jobs processing at once,
    cluster-wide (per key for a keyed limit), and how many hold a slot now."""

    model_config = ConfigDict(frozen=True)

    name: str
    max_running: int
    running: int
    """Slots in use now, summed over the keys."""
    busy_keys: int
    """Keys holding at least one slot ('' is the key of a limit without keys)."""
    source: str
    """`code` (declared with `medley.limit`, synced by workers) or `runtime` (set through
    the CLI or the service, and then kept over code declarations)."""
    updated_at: datetime
