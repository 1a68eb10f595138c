-- Medley schema, version 1: jobs, their state history, worker servers, leader terms.

CREATE TABLE medley_job (
    id                bigserial PRIMARY KEY,
    job               text        NOT NULL,
    queue             text        NOT NULL DEFAULT 'default',
    priority          integer     NOT NULL DEFAULT 100,
    state             text        NOT NULL CHECK (state IN ('scheduled', 'enqueued', 'processing',
                                      'succeeded', 'failed', 'cancelled', 'awaiting')),
    args              jsonb       NOT NULL DEFAULT '[]',
    kwargs            jsonb       NOT NULL DEFAULT '{}',
    attempt           integer     NOT NULL DEFAULT 0,
    max_attempts      integer     NOT NULL DEFAULT 10,
    timeout_seconds   double precision,
    unique_key        text,
    tags              jsonb       NOT NULL DEFAULT '[]',
    meta              jsonb       NOT NULL DEFAULT '{}',
    progress_fraction double precision,
    progress_message  text,
    result            jsonb,
    error             jsonb,
    lease_owner       text,
    cancel_requested  boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    run_at            timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz
);

-- Serves job_fetch_available: per queue, runnable rows in fetch order. Partial, so the
-- index holds only the (usually small) backlog, not the millions of finished rows.
CREATE INDEX medley_job_fetch_idx ON medley_job (queue, priority, run_at, id)
    WHERE state IN ('enqueued', 'scheduled');

-- Serves job_rescue and job_get_cancel_requested: the few processing rows, by owner.
CREATE INDEX medley_job_processing_idx ON medley_job (lease_owner)
    WHERE state = 'processing';

-- Serves job_list filtered by state (newest first) and job_prune by age.
CREATE INDEX medley_job_state_idx ON medley_job (state, id);
CREATE INDEX medley_job_finished_idx ON medley_job (state, finished_at)
    WHERE finished_at IS NOT NULL;

-- A unique key is held only while its job is live; a finished job frees it.
CREATE UNIQUE INDEX medley_job_unique_idx ON medley_job (unique_key)
    WHERE unique_key IS NOT NULL
      AND state IN ('scheduled', 'enqueued', 'processing', 'awaiting');

CREATE TABLE medley_job_history (
    id         bigserial   PRIMARY KEY,
    job_id     bigint      NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    from_state text,
    to_state   text        NOT NULL,
    reason     text        NOT NULL,
    attempt    integer     NOT NULL,
    worker     text,
    error      jsonb
);
-- No foreign key: bulk inserts stay cheap, and deletes remove history in the same statement.
CREATE INDEX medley_job_history_job_idx ON medley_job_history (job_id, id);

CREATE TABLE medley_server (
    id           text        PRIMARY KEY,
    hostname     text        NOT NULL,
    pid          integer     NOT NULL,
    queues       jsonb       NOT NULL,
    concurrency  integer     NOT NULL,
    running      integer     NOT NULL DEFAULT 0,
    cpu_percent  double precision NOT NULL DEFAULT 0,
    rss_bytes    bigint      NOT NULL DEFAULT 0,
    info         jsonb       NOT NULL DEFAULT '{}',
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE medley_leader (
    name       text        PRIMARY KEY,
    leader_id  text        NOT NULL,
    elected_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
