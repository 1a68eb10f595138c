"""Settings, read once at the edges (CLI, web app). Every field is env var `MEDLEY_<NAME>`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./medley.db"


class Settings(BaseSettings):
    """Medley's configuration. Durations are seconds."""

    model_config = SettingsConfigDict(env_prefix="MEDLEY_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    """`postgresql://...` or `sqlite:///path.db`. Default `sqlite:///./medley.db`."""
    imports: str = ""
    """Comma-separated modules that declare jobs, imported by workers. Default none."""
    queues: str = "default"
    """Comma-separated queues a worker serves, in priority order. Default `default`."""
    concurrency: int = Field(default=10, ge=1)
    """Jobs run at once per worker process. Default 10."""
    processes: int = Field(default=1, ge=1)
    """Worker processes under one supervisor. Default 1."""
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    """How often a worker reports it is alive. Default 10."""
    lease_seconds: float = Field(default=60.0, gt=0)
    """A worker silent this long is dead and its jobs are rescued. Default 60."""
    poll_seconds: float | None = Field(default=None, gt=0)
    """Fallback fetch interval. Default 5 on PostgreSQL (LISTEN/NOTIFY wakes workers),
    0.2 on SQLite (no notifications across processes)."""
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    """On SIGTERM, running jobs get this long to finish before going back to the queue."""
    retention_seconds: float = Field(default=86400.0, ge=0)
    """Succeeded jobs older than this are pruned. Default 86400 (24 h); 0 disables."""
    failed_retention_seconds: float = Field(default=30 * 86400.0, ge=0)
    """Failed and cancelled jobs older than this are pruned. Default 30 days; 0 disables."""
    max_payload_bytes: int = Field(default=1024 * 1024, ge=1)
    """Largest JSON size of a job's arguments. Default 1 MiB."""
    auto_migrate: bool | None = None
    """Apply migrations on connect. Default: yes on SQLite, no on PostgreSQL."""
    log_format: str = Field(default="console", pattern="^(console|json)$")
    """`console` or `json` (one object per line). Default `console`."""
    log_level: str = "INFO"
    """Level of Medley's loggers when the CLI configures logging. Default INFO."""

    def import_list(self) -> list[str]:
        return [m.strip() for m in self.imports.split(",") if m.strip()]

    def queue_list(self) -> list[str]:
        return [q.strip() for q in self.queues.split(",") if q.strip()]
