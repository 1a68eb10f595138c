-- Medley schema, version 6: resource management (global concurrency limits).
--
-- A job's limit comes from its definition at enqueue and is stored in `meta`
-- ({"limit": name, "limit_key": key}); these generated columns expose it to the fetch
-- and the outcome writes without changing any insert path. A job without a limit has
-- NULL here and pays one NULL test at fetch.
ALTER TABLE medley_job
    ADD COLUMN limit_name text GENERATED ALWAYS AS (meta ->> 'limit') STORED,
    ADD COLUMN limit_key  text GENERATED ALWAYS AS (coalesce(meta ->> 'limit_key', '')) STORED;

-- A named limit: at most `max_running` jobs of it processing at once, cluster-wide (per
-- key for a keyed limit). `source` is 'code' for definitions synced by workers at start,
-- 'runtime' once changed by `medley limits set` (workers then leave it alone).
CREATE TABLE medley_limit (
    name        text        PRIMARY KEY,
    max_running integer     NOT NULL CHECK (max_running >= 0),
    source      text        NOT NULL DEFAULT 'code' CHECK (source IN ('code', 'runtime')),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Slots in use per (limit, key): incremented in the statement that claims jobs and
-- decremented in the one that writes their outcome or rescues them, so it never drifts.
-- `granted` is scratch space of job_fetch_available (the slots its upsert just granted).
CREATE TABLE medley_limit_usage (
    name    text    NOT NULL,
    key     text    NOT NULL DEFAULT '',
    running integer NOT NULL DEFAULT 0 CHECK (running >= 0),
    granted integer NOT NULL DEFAULT 0,
    PRIMARY KEY (name, key)
);

-- Worker resource state, for the dashboard and the service API.
ALTER TABLE medley_server
    ADD COLUMN slots     jsonb   NOT NULL DEFAULT '{}',
    ADD COLUMN throttled boolean NOT NULL DEFAULT false;

-- The runnable jobs in two disjoint halves of medley_job_fetch_idx (which stays, for the
-- dashboard's queue heads): without a limit, so that a backlog of limited jobs is never
-- walked through to find them; and with one, which job_fetch_available probes to learn
-- whether a queue holds any (one empty probe when it does not).
CREATE INDEX medley_job_fetch_free_idx ON medley_job (queue, priority, run_at, id)
    WHERE state IN ('enqueued', 'scheduled') AND limit_name IS NULL;
CREATE INDEX medley_job_limited_idx ON medley_job (queue, priority, run_at, id)
    WHERE state IN ('enqueued', 'scheduled') AND limit_name IS NOT NULL;
