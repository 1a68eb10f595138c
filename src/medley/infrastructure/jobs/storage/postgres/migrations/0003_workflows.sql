-- Medley schema, version 3: workflows. Continuations (a job waits in `awaiting` until the
-- jobs it depends on finish), batches (a group of jobs with callbacks when all are done)
-- and recurring jobs (cron schedules fired once per tick by the maintenance leader).

-- Continuation and batch bookkeeping on the job row. Both flags are hints that let the
-- completer take its one-statement fast path for the common job that has neither:
--   dependants     > 0: continuations were declared on this job (edges may be pending);
--   batch_pending  true: this job belongs to a batch that has not counted its outcome yet.
ALTER TABLE medley_job
    ADD COLUMN batch_id         bigint,
    ADD COLUMN batch_pending    boolean NOT NULL DEFAULT false,
    ADD COLUMN depends_on       jsonb,
    ADD COLUMN continue_on      text CHECK (continue_on IN ('success', 'any')),
    ADD COLUMN awaiting_parents integer NOT NULL DEFAULT 0,
    ADD COLUMN dependants       integer NOT NULL DEFAULT 0;

-- Serves batch progress listings (jobs of one batch by state). Partial: most jobs belong
-- to no batch, and they cost this index nothing.
CREATE INDEX medley_job_batch_idx ON medley_job (batch_id, state) WHERE batch_id IS NOT NULL;

-- Pending continuation edges: parent -> dependant. An edge is deleted when its parent
-- reaches a final state and the dependant is released or cancelled, so the table holds
-- only unresolved edges and resolving the same parent twice is a no-op. No foreign keys:
-- a deleted dependant leaves an edge that its parent's resolution simply drops.
CREATE TABLE medley_job_dependency (
    parent_id   bigint NOT NULL,
    job_id      bigint NOT NULL,
    continue_on text   NOT NULL CHECK (continue_on IN ('success', 'any')),
    PRIMARY KEY (parent_id, job_id)
);

-- One batch: counters maintained by batch_resolve in the transaction that finishes each
-- member, so progress is one primary-key read and the last member's transaction (the one
-- that brings `pending` to 0 under the row lock) releases the callbacks exactly once.
CREATE TABLE medley_batch (
    id             bigserial   PRIMARY KEY,
    description    text,
    total          integer     NOT NULL DEFAULT 0,
    pending        integer     NOT NULL DEFAULT 0,
    succeeded      integer     NOT NULL DEFAULT 0,
    failed         integer     NOT NULL DEFAULT 0,
    cancelled      integer     NOT NULL DEFAULT 0,
    on_complete_id bigint,
    on_success_id  bigint,
    created_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);

-- Recurring jobs by stable name. `next_run_at` is the next tick (UTC); firing a tick moves
-- it with a compare-and-set on its old value, in the transaction that enqueues the job, so
-- two leaders (during a leader change) can never fire the same tick twice.
CREATE TABLE medley_recurring (
    name            text        PRIMARY KEY,
    job             text        NOT NULL,
    args            jsonb       NOT NULL DEFAULT '[]',
    kwargs          jsonb       NOT NULL DEFAULT '{}',
    queue           text        NOT NULL,
    priority        integer     NOT NULL,
    max_attempts    integer     NOT NULL,
    timeout_seconds double precision,
    tags            jsonb       NOT NULL DEFAULT '[]',
    cron            text        NOT NULL,
    timezone        text        NOT NULL DEFAULT 'UTC',
    misfire         text        NOT NULL DEFAULT 'once' CHECK (misfire IN ('once', 'all', 'skip')),
    paused          boolean     NOT NULL DEFAULT false,
    next_run_at     timestamptz NOT NULL,
    last_run_at     timestamptz,
    last_job_id     bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Serves recurring_list_due: the leader's once-a-second question "what is due?".
CREATE INDEX medley_recurring_due_idx ON medley_recurring (next_run_at) WHERE NOT paused;
