-- Medley schema, version 1, SQLite dialect. Same tables and meaning as PostgreSQL's.
-- Times are REAL unix seconds (UTC): they sort and compare as numbers, and the adapter
-- turns them into aware datetimes. JSON columns are TEXT holding JSON.

CREATE TABLE medley_job (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    job               TEXT    NOT NULL,
    queue             TEXT    NOT NULL DEFAULT 'default',
    priority          INTEGER NOT NULL DEFAULT 100,
    state             TEXT    NOT NULL CHECK (state IN ('scheduled', 'enqueued', 'processing',
                                  'succeeded', 'failed', 'cancelled', 'awaiting')),
    args              TEXT    NOT NULL DEFAULT '[]',
    kwargs            TEXT    NOT NULL DEFAULT '{}',
    attempt           INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL DEFAULT 10,
    timeout_seconds   REAL,
    unique_key        TEXT,
    tags              TEXT    NOT NULL DEFAULT '[]',
    meta              TEXT    NOT NULL DEFAULT '{}',
    progress_fraction REAL,
    progress_message  TEXT,
    result            TEXT,
    error             TEXT,
    lease_owner       TEXT,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    created_at        REAL    NOT NULL,
    run_at            REAL    NOT NULL,
    started_at        REAL,
    finished_at       REAL
);

-- Same purpose as PostgreSQL's partial indexes (SQLite supports partial indexes too).
CREATE INDEX medley_job_fetch_idx ON medley_job (queue, priority, run_at, id)
    WHERE state IN ('enqueued', 'scheduled');
CREATE INDEX medley_job_processing_idx ON medley_job (lease_owner)
    WHERE state = 'processing';
CREATE INDEX medley_job_state_idx ON medley_job (state, id);
CREATE INDEX medley_job_finished_idx ON medley_job (state, finished_at)
    WHERE finished_at IS NOT NULL;
CREATE UNIQUE INDEX medley_job_unique_idx ON medley_job (unique_key)
    WHERE unique_key IS NOT NULL
      AND state IN ('scheduled', 'enqueued', 'processing', 'awaiting');

CREATE TABLE medley_job_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     INTEGER NOT NULL,
    at         REAL    NOT NULL,
    from_state TEXT,
    to_state   TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    attempt    INTEGER NOT NULL,
    worker     TEXT,
    error      TEXT
);
CREATE INDEX medley_job_history_job_idx ON medley_job_history (job_id, id);

CREATE TABLE medley_server (
    id           TEXT    PRIMARY KEY,
    hostname     TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    queues       TEXT    NOT NULL,
    concurrency  INTEGER NOT NULL,
    running      INTEGER NOT NULL DEFAULT 0,
    cpu_percent  REAL    NOT NULL DEFAULT 0,
    rss_bytes    INTEGER NOT NULL DEFAULT 0,
    info         TEXT    NOT NULL DEFAULT '{}',
    started_at   REAL    NOT NULL,
    heartbeat_at REAL    NOT NULL
);

CREATE TABLE medley_leader (
    name       TEXT PRIMARY KEY,
    leader_id  TEXT NOT NULL,
    elected_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
