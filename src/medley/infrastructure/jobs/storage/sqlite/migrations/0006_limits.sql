-- Medley schema, version 6, SQLite dialect: resource management (global concurrency
-- limits). Same tables and meaning as PostgreSQL's. SQLite can add only VIRTUAL generated
-- columns to an existing table (PostgreSQL's are STORED); read the same way.
ALTER TABLE medley_job ADD COLUMN limit_name TEXT
    GENERATED ALWAYS AS (json_extract(meta, '$.limit')) VIRTUAL;
ALTER TABLE medley_job ADD COLUMN limit_key TEXT
    GENERATED ALWAYS AS (coalesce(json_extract(meta, '$.limit_key'), '')) VIRTUAL;

-- Runnable jobs that have a limit, in fetch order: the fetch looks for them here first,
-- so a queue without limited jobs costs one empty probe.
CREATE INDEX medley_job_limited_idx ON medley_job (queue, priority, run_at, id)
    WHERE state IN ('enqueued', 'scheduled') AND limit_name IS NOT NULL;

CREATE TABLE medley_limit (
    name        TEXT    PRIMARY KEY,
    max_running INTEGER NOT NULL CHECK (max_running >= 0),
    source      TEXT    NOT NULL DEFAULT 'code' CHECK (source IN ('code', 'runtime')),
    updated_at  REAL    NOT NULL
);

CREATE TABLE medley_limit_usage (
    name    TEXT    NOT NULL,
    key     TEXT    NOT NULL DEFAULT '',
    running INTEGER NOT NULL DEFAULT 0 CHECK (running >= 0),
    granted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, key)
);

ALTER TABLE medley_server ADD COLUMN slots TEXT NOT NULL DEFAULT '{}';
ALTER TABLE medley_server ADD COLUMN throttled INTEGER NOT NULL DEFAULT 0;
