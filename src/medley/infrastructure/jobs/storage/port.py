"""The storage port: what the engine needs from a database, and nothing shaped like one
database. Method names are entity-first (`job_fetch_available`) and match the named SQL
blocks in both adapters' `.sql` files, so one grep finds a query everywhere.

Guarded writes (completion, progress, rescue) return the rows they changed; a lost race
returns fewer rows, never an exception, and the caller decides what that means.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol, overload

from medley.application.models.jobs import JobState, StateChangeReason
from medley.infrastructure.jobs.storage.limit_records import (  # re-exported: part of the port
    LimitParams as LimitParams,
)
from medley.infrastructure.jobs.storage.limit_records import LimitRow as LimitRow
from medley.infrastructure.jobs.storage.limit_records import LimitUsageRow as LimitUsageRow

NotificationCallback = Callable[[str, str], None]
"""Called with (channel, payload) for each notification a listener receives."""

CHANNEL_JOBS = "medley_job"
"""Notified with the queue name when a job becomes runnable."""
CHANNEL_CANCEL = "medley_cancel"
"""Notified with the job id when a processing job is asked to stop."""


@dataclass(frozen=True, slots=True)
class StoreCapabilities:
    """What differs between backends, as data: tests branch on this, never on the type."""

    listen_notify: bool
    """Workers can be woken by the database instead of polling."""
    name: str


@dataclass(slots=True, kw_only=True)
class JobInsertParams:
    """One job to insert. Not frozen, though nothing changes it once built (a changed copy
    is made with `dataclasses.replace`): a frozen dataclass sets each field through
    `object.__setattr__`, 1.5 us of the ~5 us a bulk enqueue spent per job in Python."""

    job: str
    queue: str
    priority: int
    state: JobState
    args: Sequence[Any]
    kwargs: dict[str, Any]
    payload_json: tuple[str, str]
    """`args` and `kwargs` already encoded (checked for size by the service)."""
    run_at: datetime | None
    """None means now, on the database clock."""
    max_attempts: int
    timeout_seconds: float | None
    unique_key: str | None
    tags: Sequence[str] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    """Stored with the job, not passed to it: the enqueuing request's `request_id` and
    trace context, so one id follows a web request into its background work."""
    depends_on: Sequence[int] = ()
    """Continuation parents (state must then be `awaiting`); see `JobOptions.depends_on`."""
    continue_on: str = "success"
    batch_id: int | None = None
    """Set by the adapter for the members of a batch it inserts."""


class UniformInserts(Sequence[JobInsertParams]):
    """The rows of a bulk enqueue of one job with one set of options. They differ only in
    their arguments (and a keyed limit's meta), so `first` answers for every row whether
    the batch needs workflows or holds a unique key.

    Rows are built when first read, so a store can start writing the first rows before
    Python has built the last: PostgreSQL inserts one COPY chunk while the next is built.
    A row that cannot be built raises its `MedleyError` from the read, inside the store's
    transaction, which then writes nothing."""

    first: JobInsertParams
    meta_varies: bool = False
    """Whether a row's meta may differ from the first's (a keyed limit's key, or tokens
    estimated from the arguments); otherwise every row has the first's."""

    @overload
    def __getitem__(self, index: int) -> JobInsertParams: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[JobInsertParams]: ...
    @abstractmethod
    def __getitem__(self, index: int | slice) -> JobInsertParams | Sequence[JobInsertParams]: ...

    @abstractmethod
    def varying(
        self, start: int, stop: int
    ) -> tuple[Sequence[str], Sequence[dict[str, Any]] | None]:
        """What differs between rows `start`..`stop`: the JSON of their positional
        arguments, and their metas when `meta_varies` (else None: each is the first's).
        Cheaper than the rows, for a store that writes only these per row (COPY)."""


def shared_rows(params: Sequence[JobInsertParams]) -> Sequence[JobInsertParams]:
    """The rows that speak for all of `params` about what a uniform batch shares (its
    workflow links, its unique key), without building the rest."""
    return (params.first,) if isinstance(params, UniformInserts) else params


class JobInsertResult(NamedTuple):
    """A tuple, not a frozen dataclass: a bulk enqueue makes one per job, and a frozen
    dataclass cost 0.4 us to make (a tuple 0.2)."""

    id: int
    state: JobState
    existing: bool
    """True when `unique_key` matched a live job, whose id this is."""


class InsertedRun(Sequence[JobInsertResult]):
    """The results of a batch whose jobs all went in new and in one state (a bulk
    enqueue): each made when read, and their `ids` without making any (a bulk enqueue
    spent 0.2 ms of a batch of 1,000 making results its caller reads only the ids of)."""

    def __init__(self, ids: Sequence[int], state: JobState) -> None:
        self.ids = ids
        self.state = state

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> JobInsertResult: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[JobInsertResult]: ...
    def __getitem__(self, index: int | slice) -> JobInsertResult | Sequence[JobInsertResult]:
        if isinstance(index, slice):
            return [JobInsertResult(i, self.state, False) for i in self.ids[index]]
        return JobInsertResult(self.ids[index], self.state, False)

    def __iter__(self) -> Iterator[JobInsertResult]:
        state = self.state
        return (JobInsertResult(i, state, False) for i in self.ids)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRow:
    id: int
    job: str
    queue: str
    priority: int
    state: JobState
    args: list[Any]
    kwargs: dict[str, Any]
    attempt: int
    max_attempts: int
    timeout_seconds: float | None
    unique_key: str | None
    tags: list[str]
    progress_fraction: float | None
    progress_message: str | None
    result: Any
    error: dict[str, Any] | None
    lease_owner: str | None
    cancel_requested: bool
    created_at: datetime
    run_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    meta: dict[str, Any] = field(default_factory=dict)
    """What `JobInsertParams.meta` stored (request id, trace context)."""
    batch_id: int | None = None
    depends_on: list[int] = field(default_factory=list)
    continue_on: str | None = None
    dependants: int = 0
    """How many continuations were ever declared on this job (a hint, never decremented)."""
    batch_pending: bool = False
    """A batch member whose final outcome its batch has not counted yet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryRow:
    job_id: int
    at: datetime
    from_state: JobState | None
    to_state: JobState
    reason: StateChangeReason
    attempt: int
    worker: str | None
    error: dict[str, Any] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobFetchParams:
    queue: str
    limit: int
    worker_id: str
    ahead: int = 0
    """Also claim up to this many more jobs *without a limit* (the worker holds them until
    a slot frees, see `Producer`): jobs with a limit are only ever claimed within `limit`,
    so that a held job never holds a limit's slot or start. A store may claim fewer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCompletion:
    """The outcome of one attempt, written only if the job is still processing under
    this worker and attempt (the fencing token)."""

    id: int
    attempt: int
    state: JobState
    reason: StateChangeReason
    result_json: str | None = None
    error: dict[str, Any] | None = None
    run_at: datetime | None = None
    """For a retry (`scheduled`): when to run again."""
    progress_fraction: float | None = None
    progress_message: str | None = None
    release: bool = False
    """Give the job back without spending the attempt (graceful shutdown, snooze)."""
    job: str = ""
    """The job's name and queue: not written, carried for notifications and metrics."""
    queue: str = ""
    duration: float | None = None
    """How long the attempt ran, in seconds: not written, carried for metrics."""
    limit_tokens: float | None = None
    """Tokens the attempt reported using (`ctx.report_usage`): they replace its
    reservation in its limit's token budget. None: the reservation stands."""
    limit_blocked_until: datetime | None = None
    """The job got HTTP 429 (`ctx.rate_limited`): no job of its limit starts before this."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressUpdate:
    id: int
    attempt: int
    fraction: float
    message: str | None


@dataclass(frozen=True, slots=True)
class HeldJob:
    """A processing job as its owner sees it in the database."""

    id: int
    attempt: int
    cancel_requested: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class JobListParams:
    state: JobState | None = None
    queue: str | None = None
    job: str | None = None
    before_id: int | None = None
    """Keyset cursor: only ids below this one (newest first)."""
    limit: int = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class JobBulkParams:
    """Selects final jobs for a bulk retry or delete (the dead-letter queue's tools)."""

    states: Sequence[JobState]
    queue: str | None = None
    job: str | None = None
    error_type: str | None = None
    """Only jobs whose last error has this exception type name."""
    limit: int = 1000

    def __post_init__(self) -> None:
        if not set(self.states) <= {JobState.FAILED, JobState.CANCELLED, JobState.SUCCEEDED}:
            raise ValueError("bulk retry and delete apply to final states only")


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRescueParams:
    lease_seconds: float
    """A processing job whose owner has not heartbeaten for this long is rescued."""
    retry_at: Callable[[int], datetime] | None = None
    """When a rescued job with attempts left runs again, by its attempt number; None runs
    it again at once, keeping its place in the queue (its own `run_at`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerParams:
    id: str
    hostname: str
    pid: int
    queues: Sequence[str]
    concurrency: int
    running: int
    cpu_percent: float
    rss_bytes: int
    started_at: datetime
    info: dict[str, Any] = field(default_factory=dict)
    """Free-form; `throttle_reason` says why a throttled worker paused."""
    slots: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per queue `{"busy": n, "max": m}` in this worker process."""
    throttled: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerRow:
    id: str
    hostname: str
    pid: int
    queues: list[str]
    concurrency: int
    running: int
    cpu_percent: float
    rss_bytes: int
    started_at: datetime
    heartbeat_at: datetime
    slots: dict[str, dict[str, int]] = field(default_factory=dict)
    throttled: bool = False
    throttle_reason: str | None = None


@dataclass(frozen=True, slots=True)
class StateCount:
    queue: str
    state: JobState
    count: int


class Subscription(Protocol):
    async def close(self) -> None: ...


class JobStore(Protocol):
    """Durable job storage. Every method is safe to call from many tasks and processes."""

    capabilities: StoreCapabilities

    async def open(self) -> None:
        """Connect. Raises `StorageUnavailableError` if the database cannot be reached."""
        ...

    async def close(self) -> None: ...

    async def migration_apply(self) -> list[int]:
        """Apply pending migrations under a lock; return the versions applied (empty when
        current). Raises `SchemaTooNewError` if the database is ahead of the code."""
        ...

    async def migration_check(self) -> None:
        """Raise `MigrationRequiredError` unless the schema is exactly current."""
        ...

    async def job_insert_many(
        self, params: Sequence[JobInsertParams], *, connection: object | None = None
    ) -> Sequence[JobInsertResult]:
        """Insert jobs atomically, recording history and waking listeners once. Jobs whose
        unique key matches a live job are not inserted: that job's id comes back instead.
        With `connection`, run on the caller's connection and leave the commit to it. The
        results are in input order (an `InsertedRun` where all went in new, in one state)."""
        ...

    async def job_fetch_available(self, params: JobFetchParams) -> list[JobRow]:
        """Claim up to `limit` runnable jobs (enqueued, or scheduled and due) of one queue
        for `worker_id`: state `processing`, attempt + 1. Concurrent callers never claim
        the same job."""
        ...

    async def job_set_state_if_processing(
        self, worker_id: str, completions: Sequence[JobCompletion]
    ) -> list[int]:
        """Write outcomes in one statement; returns the ids written. A job no longer held
        by this worker and attempt (rescued, cancelled, deleted) is skipped."""
        ...

    async def job_progress_update(self, worker_id: str, updates: Sequence[ProgressUpdate]) -> None:
        """Store the latest progress of jobs this worker holds; others are ignored."""
        ...

    async def job_get(self, job_id: int) -> JobRow | None: ...

    async def job_history(self, job_id: int) -> list[HistoryRow]:
        """The job's transitions, oldest first."""
        ...

    async def job_list(self, params: JobListParams) -> list[JobRow]:
        """Jobs newest first (by id), filtered, keyset-paginated."""
        ...

    async def job_cancel(self, job_id: int) -> JobRow | None:
        """Cancel a scheduled/enqueued/awaiting job at once; mark a processing one
        `cancel_requested` and notify its worker. Returns the row after the change, or
        the unchanged row if it was final; None if not found."""
        ...

    async def job_retry(self, job_id: int) -> JobRow | None:
        """Move a final job back to `enqueued` with a fresh attempt budget. Returns the
        row after the change, or unchanged if it was not final; None if not found."""
        ...

    async def job_delete(self, job_id: int) -> JobRow | None:
        """Delete a job that is not processing, with its history. Returns the deleted row,
        the unchanged row if it was processing, None if not found."""
        ...

    async def job_retry_many(self, params: JobBulkParams) -> list[int]:
        """Send up to `limit` matching final jobs back to `enqueued` (fresh attempts) in one
        transaction; returns their ids. Jobs whose unique key a live job holds are skipped."""
        ...

    async def job_delete_many(self, params: JobBulkParams) -> list[int]:
        """Delete up to `limit` matching final jobs with their history; returns their ids."""
        ...

    async def job_get_held(self, worker_id: str) -> list[HeldJob]:
        """Every processing job held by `worker_id`. Its heartbeat compares them with what
        it runs: a claim whose reply was lost (connection cut after commit) shows up here
        but not in memory, and is given back; cancel requests show up here too."""
        ...

    async def job_get_cancel_requested(self, worker_id: str) -> list[int]:
        """Ids of jobs this worker holds that a user asked to cancel."""
        ...

    async def job_rescue(self, params: JobRescueParams) -> list[JobRow]:
        """Give back processing jobs whose owner is gone (no heartbeat within the lease):
        to `scheduled` with attempts left, else `failed`. Re-checks the owner in the same
        statement, so a job the owner finished meanwhile is left alone."""
        ...

    async def job_prune(self, state: JobState, finished_before: datetime) -> int:
        """Delete final jobs of `state` finished before the cutoff, and their history."""
        ...

    async def job_count_by_state(self) -> list[StateCount]:
        """Counts per queue and state, for the dashboard and `medley stats`."""
        ...

    async def server_heartbeat(self, params: ServerParams) -> None:
        """Register or refresh a worker process."""
        ...

    async def server_delete(self, server_id: str) -> None: ...

    async def server_list(self) -> list[ServerRow]: ...

    async def server_prune(self, older_than_seconds: float) -> int:
        """Forget servers silent for this long (their jobs are rescued separately)."""
        ...

    async def leader_attempt_elect(self, name: str, leader_id: str, ttl_seconds: float) -> bool:
        """Become or stay leader of `name` unless another holder's term is unexpired."""
        ...

    async def leader_resign(self, name: str, leader_id: str) -> None: ...

    async def subscribe(self, callback: NotificationCallback) -> Subscription | None:
        """Deliver notifications of `CHANNEL_*`; None when the backend has none
        (`capabilities.listen_notify` is False)."""
        ...

    # --- web --------------------------------------------------------------------------

    async def user_upsert(self, name: str, password_hash: str, role: str) -> bool:
        """Create a dashboard user or replace its password and role; True if created."""
        ...

    async def user_get(self, name: str) -> UserRow | None: ...

    async def user_delete(self, name: str) -> bool:
        """Remove a user; False if there was none."""
        ...

    async def user_count(self) -> int:
        """How many users exist: with none, the dashboard answers loopback clients only."""
        ...

    async def token_insert(self, name: str, token_hash: str, role: str) -> int:
        """Store an API token by its hash (the secret itself is never stored); its id."""
        ...

    async def token_get_by_hash(self, token_hash: str) -> TokenRow | None:
        """The token with this hash, revoked or not (the caller checks `revoked_at`)."""
        ...

    async def token_revoke(self, token_id: int) -> bool:
        """Revoke a token; False if it does not exist or was already revoked."""
        ...

    async def token_list(self) -> list[TokenRow]: ...

    async def queue_set_paused(self, name: str, paused: bool) -> None:
        """Pause or resume a queue. Workers skip a paused queue on their next fetch; jobs
        already running finish. Idempotent."""
        ...

    async def queue_list(self) -> list[QueueRow]:
        """Queues that were ever paused or resumed, with their current flag."""
        ...

    async def stat_count_by_state(self) -> list[StateCount]:
        """Jobs per queue and state from the maintained counters: exact, and as cheap at
        ten million jobs as at ten (no scan of the job table)."""
        ...

    async def stat_throughput(self, since: datetime) -> list[ThroughputRow]:
        """Jobs that entered `succeeded` or `failed` per minute since `since` (kept a day)."""
        ...

    async def stat_queue_heads(self) -> list[QueueHeadRow]:
        """Per queue with runnable or scheduled jobs, when its oldest runnable job became
        due. A skip scan of the fetch index: one probe per (queue, priority)."""
        ...

    async def job_search(self, params: JobSearchParams) -> list[JobRow]:
        """`job_list` plus a tag filter, served by indexes on (state, id), (job, id) and
        tags; newest first, keyset-paginated (never OFFSET)."""
        ...

    async def subscribe_events(self, callback: NotificationCallback) -> Subscription | None:
        """Deliver `CHANNEL_EVENTS` (job state and progress changes) through one shared
        connection per store; None when the backend has no notifications (poll instead)."""
        ...

    # --- observability ----------------------------------------------------------------

    async def job_log_append(self, params: JobLogAppendParams) -> int:
        """Store captured log lines of running jobs (many jobs, one statement), numbering
        each job's lines on from its last stored one, then drop each job's oldest lines
        beyond `max_lines` / `max_bytes`. Lines of a job deleted meanwhile are skipped.
        Returns how many lines were stored. Safe under concurrency (a zombie attempt's
        clashing line numbers are skipped, never an error)."""
        ...

    async def job_log_list(self, params: JobLogListParams) -> JobLogRows:
        """A job's stored lines oldest first (after `after_seq`), and how many older lines
        were dropped to keep within the bounds."""
        ...

    async def stat_job_performance(self, params: StatWindowParams) -> list[JobPerformanceRow]:
        """Per job name, the jobs that finished since `params.since`: counts by final state,
        retries, and percentiles of run time and queue wait (nearest rank, the same on
        every backend). Served by medley_job_finished_idx; for `medley stats`, not for a
        hot path."""
        ...

    # --- workflows --------------------------------------------------------------------
    # Continuations need no methods of their own: `job_insert_many` takes `depends_on`, and
    # every write that ends a job (completion, cancel, rescue, delete) releases or cancels
    # its dependants and counts it in its batch in the same transaction.

    async def batch_insert(self, params: BatchInsertParams) -> BatchInsertResult:
        """Create a batch with its callbacks (`awaiting` until the batch finishes) and its
        jobs, atomically. Callbacks are enqueued exactly once: by the transaction that
        finishes the last member."""
        ...

    async def batch_add(
        self, batch_id: int, params: Sequence[JobInsertParams]
    ) -> list[JobInsertResult]:
        """Add jobs to a batch that has not finished (a member may fan out while it runs).
        Raises `BatchNotFoundError`, or `BatchClosedError` once its last job finished."""
        ...

    async def batch_get(self, batch_id: int) -> BatchRow | None: ...

    async def recurring_upsert(self, params: RecurringUpsertParams) -> RecurringRow:
        """Create or redefine a recurring job by name. The schedule (`next_run_at`) is kept
        unless the cron or time zone changed, and a pause survives redefinition, so that
        every worker may upsert the jobs declared in code when it starts."""
        ...

    async def recurring_get(self, name: str) -> RecurringRow | None: ...

    async def recurring_list(self) -> list[RecurringRow]:
        """All recurring jobs by name, with the state of each one's last job."""
        ...

    async def recurring_list_due(self, now: datetime, limit: int) -> list[RecurringRow]:
        """Unpaused recurring jobs whose next tick is at or before `now`, earliest first."""
        ...

    async def recurring_next_due(self) -> datetime | None:
        """The earliest next tick of an unpaused recurring job (None: there is none): the
        scheduler sleeps until then instead of asking every second."""
        ...

    async def recurring_fire(self, params: RecurringFireParams) -> list[JobInsertResult] | None:
        """Enqueue the jobs of a tick and record the last run, atomically. With
        `expected_next_run_at`, only if the stored next tick still equals it (and the job
        is not paused), moving it to `next_run_at`: a compare-and-set, so a tick is fired
        once however many schedulers race. Returns None when the race was lost or the
        recurring job is gone."""
        ...

    async def recurring_set_paused(
        self, name: str, paused: bool, next_run_at: datetime | None = None
    ) -> RecurringRow | None:
        """Pause or resume; resuming moves the next tick to `next_run_at` (ticks missed
        while paused are not fired). None if no such recurring job."""
        ...

    async def recurring_delete(self, name: str) -> bool:
        """Remove a recurring job (jobs it fired stay); False if there was none."""
        ...

    # --- limits -----------------------------------------------------------------------
    # Named limits are enforced inside `job_fetch_available` (slots, starts and token
    # reservations taken in the claiming statement/transaction), `job_rescue` and
    # `job_set_state_if_processing` (slots given back, reported tokens and 429 blocks
    # applied). These methods manage the definitions every worker reads from the database.

    async def limit_upsert(self, params: LimitParams) -> bool:
        """Define or change a limit; takes effect at every worker's next fetch. A `code`
        definition does not replace a `runtime` one (see `LimitParams.source`). True if
        written."""
        ...

    async def limit_list(self) -> list[LimitRow]:
        """Every defined limit by name, with the slots in use now."""
        ...

    async def limit_delete(self, name: str) -> bool:
        """Forget a limit (its jobs then run unlimited); False if there was none."""
        ...

    async def limit_usage(self, name: str) -> list[LimitUsageRow]:
        """The keys of a limit that hold slots now, by key."""
        ...

    def limit_wait_hint(self, queue: str) -> float | None:
        """Seconds until a job of `queue` that a start rate or a 429 block held back at the
        last fetch may start; None if none was held back by time, or that time has
        passed without a fetch to renew it. No I/O: the producer
        sleeps no longer than this instead of a whole poll interval (a full bucket holds
        one period's starts, so a poll longer than the period would lose some)."""
        ...


Opener = Callable[[], Awaitable[JobStore]]


# --- web ----------------------------------------------------------------------------------
# What the web layer (API auth, dashboard) reads and writes beside jobs: users, tokens,
# paused queues, and the monitoring read model (maintained counters, never COUNT(*) over
# the whole table). The methods are declared on `JobStore` below the same marker.

CHANNEL_EVENTS = "medley_event"
"""Notified (PostgreSQL) with comma-separated ids of jobs whose state or progress changed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRow:
    name: str
    password_hash: str
    role: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRow:
    id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueRow:
    name: str
    paused: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueHeadRow:
    queue: str
    oldest_due_at: datetime | None
    """When the longest-waiting runnable job of the queue became due; None if none is."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ThroughputRow:
    minute: datetime
    state: JobState
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSearchParams:
    """Dashboard search: `JobListParams` plus a tag. Newest first, keyset-paginated."""

    state: JobState | None = None
    queue: str | None = None
    job: str | None = None
    tag: str | None = None
    before_id: int | None = None
    limit: int = 50


# --- observability ------------------------------------------------------------------------
# Per-job log lines (stored with the job, bounded) and the performance read model of
# `medley stats`. The methods are declared on `JobStore` below the same marker.


@dataclass(frozen=True, slots=True, kw_only=True)
class JobLogEntry:
    """One captured line of a running job."""

    job_id: int
    attempt: int
    at: datetime
    level: str
    logger: str
    message: str
    pos: int = 1
    """Position among this job's lines of one append, counting lines dropped in memory
    before the append (1 = right after the last stored line)."""
    boff: int = 0
    """UTF-8 bytes of this job's messages between the last stored line and this one (lines
    dropped in memory included): places the line for the `max_bytes` bound."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobLogAppendParams:
    entries: Sequence[JobLogEntry]
    max_lines: int
    """Lines kept per job; older ones are deleted."""
    max_bytes: int
    """UTF-8 bytes of messages kept per job; older lines are deleted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobLogListParams:
    job_id: int
    after_seq: int = 0
    """Only lines numbered above this (0: from the oldest kept)."""
    limit: int = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class JobLogRow:
    seq: int
    """The line's number among every line the job ever logged (dropped ones included)."""
    attempt: int
    at: datetime
    level: str
    logger: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobLogRows:
    lines: list[JobLogRow]
    dropped: int
    """Older lines deleted to keep within the bounds (the marker's figure)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatWindowParams:
    since: datetime
    job: str | None = None
    queue: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPerformanceRow:
    job: str
    succeeded: int
    failed: int
    cancelled: int
    retries: int
    """Attempts beyond the first, over the jobs counted."""
    run_p50: float | None
    run_p95: float | None
    run_p99: float | None
    run_max: float | None
    """Seconds of the last attempt of succeeded jobs."""
    wait_p50: float | None
    wait_p95: float | None
    """Seconds from runnable (enqueued, or due) to the last attempt's start."""


# --- workflows ----------------------------------------------------------------------------
# Continuations, batches and recurring jobs. The methods are declared on `JobStore` below
# the same marker.


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchInsertParams:
    jobs: Sequence[JobInsertParams]
    on_complete: JobInsertParams | None = None
    """Enqueued with `kwargs["batch"]` = the summary once every member is final."""
    on_success: JobInsertParams | None = None
    """Likewise, if every member succeeded; cancelled otherwise."""
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchInsertResult:
    id: int
    jobs: list[JobInsertResult]
    on_complete_id: int | None
    on_success_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchRow:
    id: int
    description: str | None
    total: int
    pending: int
    succeeded: int
    failed: int
    cancelled: int
    on_complete_id: int | None
    on_success_id: int | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecurringUpsertParams:
    name: str
    job: str
    payload_json: tuple[str, str]
    """`args` and `kwargs`, encoded and checked by the service."""
    queue: str
    priority: int
    max_attempts: int
    timeout_seconds: float | None
    tags: Sequence[str]
    cron: str
    timezone: str
    misfire: str
    next_run_at: datetime
    """The first tick after now, used unless the stored schedule is unchanged."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecurringRow:
    name: str
    job: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str
    priority: int
    max_attempts: int
    timeout_seconds: float | None
    tags: list[str]
    cron: str
    timezone: str
    misfire: str
    paused: bool
    next_run_at: datetime
    last_run_at: datetime | None
    last_job_id: int | None
    last_job_state: JobState | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RecurringFireParams:
    name: str
    jobs: Sequence[JobInsertParams]
    last_run_at: datetime
    """The tick the last of `jobs` stands for (shown as the last run)."""
    expected_next_run_at: datetime | None = None
    """Compare-and-set guard; None for a manual trigger, which leaves the schedule alone."""
    next_run_at: datetime | None = None
