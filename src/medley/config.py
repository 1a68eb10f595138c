"""Settings, read once at the edges (CLI, web app). Every field is env var `MEDLEY_<NAME>`,
or a key of the TOML file named by `MEDLEY_CONFIG_FILE` (environment variables win), so a
deployment can keep its limits, queues and thresholds in one reviewed file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from medley.application.errors import ConfigError

if TYPE_CHECKING:
    from medley.infrastructure.jobs.limit_spec import LimitSpec
    from medley.infrastructure.jobs.runtime.queues import QueueSpec
    from medley.infrastructure.jobs.runtime.server import WorkerConfig
    from medley.infrastructure.jobs.runtime.throttle import ThrottleConfig
    from medley.infrastructure.observability.health import HealthConfig
    from medley.infrastructure.observability.joblog import JobLogConfig

DEFAULT_DATABASE_URL = "sqlite:///./medley.db"
CONFIG_FILE_ENV = "MEDLEY_CONFIG_FILE"


class Settings(BaseSettings):
    """Medley's configuration. Durations are seconds."""

    model_config = SettingsConfigDict(env_prefix="MEDLEY_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then `MEDLEY_*` variables, then the TOML file (if one is named)."""
        path = os.environ.get(CONFIG_FILE_ENV)
        if not path:
            return (init_settings, env_settings)
        if not Path(path).is_file():
            raise ConfigError(f"{CONFIG_FILE_ENV}={path}: no such file")
        try:
            toml = TomlConfigSettingsSource(settings_cls, toml_file=path)
        except ValueError as exc:  # tomllib.TOMLDecodeError
            raise ConfigError(f"{CONFIG_FILE_ENV}={path}: not valid TOML ({exc})") from None
        return (init_settings, env_settings, toml)

    database_url: str = DEFAULT_DATABASE_URL
    """`postgresql://...` or `sqlite:///path.db`. Default `sqlite:///./medley.db`."""
    imports: str = ""
    """Comma-separated modules that declare jobs, imported by workers. Default none."""
    queues: str = "default"
    """Comma-separated queues a worker serves, in priority order, each
    `NAME[:SLOTS][@WEIGHT]`: `ai:4,default:16` caps `ai` at 4 running jobs per worker
    process; weights matter with `queue_mode=weighted`. Default `default`."""
    concurrency: int | None = Field(default=None, ge=1)
    """Jobs run at once per worker process. Default: the sum of the per-queue caps when
    every queue has one, else 10."""
    prefetch: int | None = Field(default=None, ge=0)
    """Most jobs a worker process may claim ahead of a free slot while its jobs are short
    (under 0.25 s on average), so the next job starts without a round trip; never more
    than it starts in 50 ms at its recent pace. Default 150 for a worker of one queue, its
    concurrency for one of several; 0 turns it off."""
    queue_mode: str = Field(default="strict", pattern="^(strict|weighted)$")
    """`strict` (always ask the queues in their order) or `weighted` (smooth weighted
    round-robin over the `@WEIGHT`s, so a flooded queue cannot starve the others).
    Default `strict`."""
    max_rss_mb: float | None = Field(default=None, gt=0)
    """A worker process stops fetching while its RSS is above this many MiB. Default off."""
    min_available_mb: float | None = Field(default=None, gt=0)
    """A worker stops fetching while the machine's available memory is below this many
    MiB. Default off."""
    max_cpu_percent: float | None = Field(default=None, gt=0)
    """A worker stops fetching while the machine's CPU use (0-100, all cores) is above
    this. Default off."""
    child_max_jobs: int | None = Field(default=None, ge=1)
    """Replace a `cpu_bound` job process after this many jobs. Default never."""
    child_max_rss_mb: float | None = Field(default=None, gt=0)
    """Replace a `cpu_bound` job process, after its job, once its RSS is above this many
    MiB. Default never."""
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
    queue_timeouts: str = ""
    """Default job timeout per queue, e.g. `ai=10m,default=60s`, for jobs without their
    own. Default none (no timeout)."""
    limits: str = ""
    """Limits a worker declares when it starts, e.g. `llm=3,tenant=2` (max running), or
    with rates: `llm=max:3 rate:60/min tokens:40000/min` (entries comma-separated), as
    `medley.limit(...)` in code does (and overriding a code declaration of the same name);
    `medley limits set` still wins over both. Default none."""
    cpu_processes: int | None = Field(default=None, ge=0)
    """Child processes for `cpu_bound` jobs, started on first use. Default: one per CPU;
    0 runs them in threads."""
    webhook_url: str | None = None
    """POST a signed JSON notification here for dead jobs (ended `failed`). Default off."""
    webhook_secret: str = ""
    """HMAC-SHA256 key for the `X-Medley-Signature` header of webhook posts."""
    webhook_events: str = Field(default="dead", pattern="^(dead|failure)$")
    """`dead` (jobs that ended failed) or `failure` (every failed attempt). Default dead."""
    webhook_digest_seconds: float = Field(default=60.0, ge=0)
    """At most one webhook post per this many seconds; a storm becomes one digest."""
    log_format: str = Field(default="console", pattern="^(console|json)$")
    """`console` or `json` (one object per line). Default `console`."""
    log_level: str = "INFO"
    """Level of Medley's loggers when the CLI configures logging. Default INFO."""
    # --- web (`medley serve`) -------------------------------------------------------------
    host: str = "127.0.0.1"
    """Address `medley serve` listens on. Default 127.0.0.1 (this machine only)."""
    port: int = Field(default=8000, ge=0, le=65535)
    """Port `medley serve` listens on. Default 8000; 0 picks a free one."""
    with_worker: bool | None = None
    """Run a worker inside `medley serve`. Default: yes on SQLite, no on PostgreSQL."""
    secret_key: str = ""
    """Key that signs dashboard session cookies. Default empty: a random key per process
    (sessions end at restart; set it when several processes serve one dashboard)."""
    session_seconds: float = Field(default=12 * 3600.0, gt=0)
    """How long a dashboard login lasts. Default 43200 (12 h)."""
    cookie_secure: bool | None = None
    """Mark the session cookie `Secure`. Default: when the request came over HTTPS."""
    # --- observability ----------------------------------------------------------------------
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """`medley worker` serves /metrics, /health/live and /health/ready on this port (with
    --processes P, the supervisor serves the sum of its children). Default off."""
    metrics_host: str = "0.0.0.0"
    """Address of the worker's metrics port. Default 0.0.0.0 (Prometheus scrapes from
    elsewhere)."""
    job_log_capture: str = Field(default="ctx", pattern="^(ctx|all|off)$")
    """What is stored with each job: `ctx` (lines of `ctx.log`), `all` (every record logged
    while it runs, by any logger) or `off`. Default `ctx`."""
    job_log_level: str = "INFO"
    """Lines below this level are not stored with the job. Default INFO."""
    job_log_max_lines: int = Field(default=1000, ge=1)
    """Lines kept per job; older ones are dropped (and counted). Default 1000."""
    job_log_max_bytes: int = Field(default=256 * 1024, ge=1)
    """Bytes of log messages kept per job. Default 262144 (256 KiB)."""
    health_timeout_seconds: float = Field(default=2.0, gt=0)
    """/health/ready and `medley health` answer within this. Default 2."""
    health_expect_workers: bool = True
    """Readiness fails when no worker heartbeat is fresh. Default yes."""
    health_max_queue_age_seconds: float = Field(default=600.0, ge=0)
    """Readiness fails when a runnable job has waited longer. Default 600; 0 disables."""
    health_max_dead_letter_growth: int = Field(default=100, ge=0)
    """Readiness fails when more jobs ended `failed` within the window. Default 100; 0
    disables."""
    health_dead_letter_window_seconds: float = Field(default=900.0, gt=0, le=86400)
    """The window of the dead-letter check. Default 900 (15 min); at most a day."""

    def import_list(self) -> list[str]:
        return [m.strip() for m in self.imports.split(",") if m.strip()]

    def queue_timeout_map(self) -> dict[str, float]:
        """`ai=10m,default=60` -> {"ai": 600.0, "default": 60.0}."""
        from medley.infrastructure.jobs.duration import parse_duration

        timeouts: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in self.queue_timeouts.split(","))):
            queue, sep, value = item.partition("=")
            duration = parse_duration(value.strip()) if sep else None
            if not queue.strip() or duration is None:
                raise ConfigError(f"invalid queue timeout {item!r}: expected QUEUE=DURATION")
            timeouts[queue.strip()] = duration.total_seconds()
        return timeouts

    def limit_map(self) -> dict[str, LimitSpec]:
        """`llm=3,api=rate:60/min tokens:40000/min` -> {"llm": LimitSpec(max_running=3),
        "api": LimitSpec(rate=60, tokens=40000, period_seconds=60)}."""
        from medley.infrastructure.jobs.limit_spec import parse_limit_spec

        limits: dict[str, LimitSpec] = {}
        for item in filter(None, (part.strip() for part in self.limits.split(","))):
            name, sep, value = item.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise ConfigError(f"invalid limit {item!r}: expected NAME=MAX_RUNNING")
            limits[name.strip()] = parse_limit_spec(name.strip(), value)
        return limits

    def worker_config(self) -> WorkerConfig:
        """The worker settings, built in one place for `medley worker` and
        `serve --with-worker` alike."""
        from medley.infrastructure.jobs.storage.factory import is_sqlite

        poll = self.poll_seconds or (0.2 if is_sqlite(self.database_url) else 5.0)
        specs = self.queue_specs()
        try:
            return self._worker_config(specs, poll)
        except ValueError as exc:
            raise ConfigError(f"invalid worker settings: {exc}") from exc

    def _worker_config(self, specs: list[QueueSpec], poll: float) -> WorkerConfig:
        from medley.infrastructure.jobs.runtime.server import WorkerConfig

        return WorkerConfig(
            queues=[s.name for s in specs],
            queue_slots={s.name: s.slots for s in specs if s.slots is not None},
            queue_weights={s.name: s.weight for s in specs},
            queue_mode="weighted" if self.queue_mode == "weighted" else "strict",
            concurrency=self.concurrency or 0,
            prefetch=self.prefetch,
            throttle=self.throttle_config(),
            child_max_jobs=self.child_max_jobs,
            child_max_rss_mb=self.child_max_rss_mb,
            poll_seconds=poll,
            heartbeat_seconds=self.heartbeat_seconds,
            lease_seconds=self.lease_seconds,
            shutdown_grace_seconds=self.shutdown_grace_seconds,
            queue_timeouts=self.queue_timeout_map(),
            cpu_processes=self.cpu_processes,
            job_logs=self.job_log_config(),
        )

    def queue_list(self) -> list[str]:
        return [s.name for s in self.queue_specs()]

    def queue_specs(self) -> list[QueueSpec]:
        """`ai:4,default:16` -> specs; raises `ConfigError` (one line) on bad syntax."""
        from medley.infrastructure.jobs.runtime.queues import parse_queues

        try:
            return parse_queues(self.queues)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    def total_concurrency(self) -> int:
        from medley.infrastructure.jobs.runtime.queues import total_slots

        return total_slots(self.queue_specs(), self.concurrency)

    def throttle_config(self) -> ThrottleConfig:
        from medley.infrastructure.jobs.runtime.throttle import ThrottleConfig

        return ThrottleConfig(
            max_rss_mb=self.max_rss_mb,
            min_available_mb=self.min_available_mb,
            max_cpu_percent=self.max_cpu_percent,
        )

    def health_config(self) -> HealthConfig:
        from medley.infrastructure.observability.health import HealthConfig

        return HealthConfig(
            timeout_seconds=self.health_timeout_seconds,
            expect_workers=self.health_expect_workers,
            lease_seconds=self.lease_seconds,
            max_queue_age_seconds=self.health_max_queue_age_seconds,
            max_dead_letter_growth=self.health_max_dead_letter_growth,
            dead_letter_window_seconds=self.health_dead_letter_window_seconds,
        )

    def job_log_config(self) -> JobLogConfig:
        import logging

        from medley.infrastructure.observability.joblog import JobLogConfig

        level = logging.getLevelName(self.job_log_level.upper())
        if not isinstance(level, int):
            raise ConfigError(f"invalid job log level {self.job_log_level!r}")
        return JobLogConfig(
            capture=self.job_log_capture,
            level=level,
            max_lines=self.job_log_max_lines,
            max_bytes=self.job_log_max_bytes,
        )
