"""Medley: durable background jobs on PostgreSQL or embedded SQLite.

import medley

@medley.job(queue="ai", max_attempts=5, timeout="10m")
async def extract(ctx: medley.JobContext, document_id: int) -> dict: ...

jobs = medley.connect("postgresql://localhost/app")
job_id = await jobs.enqueue(extract, document_id=7)
info = await jobs.wait(job_id, timeout=60)
"""

from __future__ import annotations

from medley.application.errors import (
    BatchClosedError,
    BatchNotFoundError,
    ConfigError,
    DuplicateJobError,
    InvalidArgumentsError,
    InvalidDatabaseUrlError,
    InvalidScheduleError,
    InvalidTransitionError,
    JobNotFoundError,
    MedleyError,
    MigrationRequiredError,
    PayloadTooLargeError,
    RecurringJobNotFoundError,
    SchemaTooNewError,
    StorageError,
    StorageUnavailableError,
    UnknownJobError,
    WaitTimeoutError,
)
from medley.application.interfaces import BackgroundJobService
from medley.application.models.jobs import (
    BulkSelection,
    EnqueueRequest,
    EnqueueResult,
    JobError,
    JobFilter,
    JobInfo,
    JobOptions,
    JobPage,
    JobState,
    Progress,
    StateChange,
)
from medley.application.models.limits import LimitInfo
from medley.application.models.servers import ServerInfo
from medley.application.models.workflows import (
    BatchInfo,
    BatchRequest,
    BatchResult,
    Misfire,
    RecurringInfo,
    RecurringJob,
)
from medley.infrastructure.jobs.context import JobCancelledError, JobContext
from medley.infrastructure.jobs.control import Retry, Snooze
from medley.infrastructure.jobs.limits import LimitDefinition, limit
from medley.infrastructure.jobs.notifications import FailureEvent, on_dead, on_failure
from medley.infrastructure.jobs.recurring import recurring
from medley.infrastructure.jobs.registry import JobDefinition, JobRegistry, job
from medley.infrastructure.services.background_job_service import JobService
from medley.infrastructure.services.connect import connect, connect_async
from medley.infrastructure.services.in_process import InProcessJobService
from medley.infrastructure.services.sync import SyncJobService, connect_sync

__all__ = [
    "BackgroundJobService",
    "BatchClosedError",
    "BatchInfo",
    "BatchNotFoundError",
    "BatchRequest",
    "BatchResult",
    "BulkSelection",
    "ConfigError",
    "DuplicateJobError",
    "EnqueueRequest",
    "EnqueueResult",
    "FailureEvent",
    "InProcessJobService",
    "InvalidArgumentsError",
    "InvalidDatabaseUrlError",
    "InvalidScheduleError",
    "InvalidTransitionError",
    "JobCancelledError",
    "JobContext",
    "JobDefinition",
    "JobError",
    "JobFilter",
    "JobInfo",
    "JobNotFoundError",
    "JobOptions",
    "JobPage",
    "JobRegistry",
    "JobService",
    "JobState",
    "LimitDefinition",
    "LimitInfo",
    "MedleyError",
    "MigrationRequiredError",
    "Misfire",
    "PayloadTooLargeError",
    "Progress",
    "RecurringInfo",
    "RecurringJob",
    "RecurringJobNotFoundError",
    "Retry",
    "SchemaTooNewError",
    "ServerInfo",
    "Snooze",
    "StateChange",
    "StorageError",
    "StorageUnavailableError",
    "SyncJobService",
    "UnknownJobError",
    "WaitTimeoutError",
    "connect",
    "connect_async",
    "connect_sync",
    "job",
    "limit",
    "on_dead",
    "on_failure",
    "recurring",
]
