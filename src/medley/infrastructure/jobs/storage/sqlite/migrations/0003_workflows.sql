-- Medley schema, version 3, SQLite dialect: workflows (continuations, batches, recurring
-- jobs). Same tables and meaning as PostgreSQL's; see its 0003 for the reasoning.
-- SQLite's ALTER TABLE adds one column per statement; times are REAL unix seconds and JSON
-- is TEXT, as in version 1.

ALTER TABLE medley_job ADD COLUMN batch_id INTEGER;
ALTER TABLE medley_job ADD COLUMN batch_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE medley_job ADD COLUMN depends_on TEXT;
ALTER TABLE medley_job ADD COLUMN continue_on TEXT CHECK (continue_on IN ('success', 'any'));
ALTER TABLE medley_job ADD COLUMN awaiting_parents INTEGER NOT NULL DEFAULT 0;
ALTER TABLE medley_job ADD COLUMN dependants INTEGER NOT NULL DEFAULT 0;

CREATE INDEX medley_job_batch_idx ON medley_job (batch_id, state) WHERE batch_id IS NOT NULL;

CREATE TABLE medley_job_dependency (
    parent_id   INTEGER NOT NULL,
    job_id      INTEGER NOT NULL,
    continue_on TEXT    NOT NULL CHECK (continue_on IN ('success', 'any')),
    PRIMARY KEY (parent_id, job_id)
);

CREATE TABLE medley_batch (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    description    TEXT,
    total          INTEGER NOT NULL DEFAULT 0,
    pending        INTEGER NOT NULL DEFAULT 0,
    succeeded      INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0,
    cancelled      INTEGER NOT NULL DEFAULT 0,
    on_complete_id INTEGER,
    on_success_id  INTEGER,
    created_at     REAL    NOT NULL,
    finished_at    REAL
);

CREATE TABLE medley_recurring (
    name            TEXT    PRIMARY KEY,
    job             TEXT    NOT NULL,
    args            TEXT    NOT NULL DEFAULT '[]',
    kwargs          TEXT    NOT NULL DEFAULT '{}',
    queue           TEXT    NOT NULL,
    priority        INTEGER NOT NULL,
    max_attempts    INTEGER NOT NULL,
    timeout_seconds REAL,
    tags            TEXT    NOT NULL DEFAULT '[]',
    cron            TEXT    NOT NULL,
    timezone        TEXT    NOT NULL DEFAULT 'UTC',
    misfire         TEXT    NOT NULL DEFAULT 'once' CHECK (misfire IN ('once', 'all', 'skip')),
    paused          INTEGER NOT NULL DEFAULT 0,
    next_run_at     REAL    NOT NULL,
    last_run_at     REAL,
    last_job_id     INTEGER,
    created_at      REAL    NOT NULL,
    updated_at      REAL    NOT NULL
);

CREATE INDEX medley_recurring_due_idx ON medley_recurring (next_run_at) WHERE NOT paused;
