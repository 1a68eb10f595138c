-- Medley schema, version 4, SQLite dialect: dashboard users and API tokens, paused
-- queues, and maintained job counters. Same tables and meaning as PostgreSQL's; times are
-- REAL unix seconds.

CREATE TABLE medley_user (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
    created_at    REAL NOT NULL
);

CREATE TABLE medley_token (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL DEFAULT '',
    token_hash TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
    created_at REAL NOT NULL,
    revoked_at REAL
);

CREATE TABLE medley_queue (
    name       TEXT PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0,
    changed_at REAL NOT NULL
);

CREATE INDEX medley_job_name_idx ON medley_job (job, id);

-- `minute = 0` rows hold the number of jobs per (queue, state); other rows count jobs that
-- entered `succeeded` or `failed` during the minute starting at `minute` (unix seconds).
CREATE TABLE medley_stat (
    queue  TEXT    NOT NULL,
    state  TEXT    NOT NULL,
    minute INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (queue, state, minute)
) WITHOUT ROWID;

INSERT INTO medley_stat (queue, state, minute, count)
SELECT queue, state, 0, count(*) FROM medley_job GROUP BY queue, state;

-- SQLite has one writer at a time and row-level triggers only: each changed row updates
-- its counters directly (no contention to avoid, unlike PostgreSQL's delta table). The
-- `UPDATE OF state` triggers do not fire for progress updates, which never set the state.
CREATE TRIGGER medley_job_stat_insert AFTER INSERT ON medley_job
BEGIN
    INSERT INTO medley_stat (queue, state, minute, count) VALUES (new.queue, new.state, 0, 1)
    ON CONFLICT (queue, state, minute) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER medley_job_stat_delete AFTER DELETE ON medley_job
BEGIN
    UPDATE medley_stat SET count = count - 1
    WHERE queue = old.queue AND state = old.state AND minute = 0;
END;

CREATE TRIGGER medley_job_stat_update AFTER UPDATE OF state, queue ON medley_job
WHEN old.state IS NOT new.state OR old.queue IS NOT new.queue
BEGIN
    UPDATE medley_stat SET count = count - 1
    WHERE queue = old.queue AND state = old.state AND minute = 0;
    INSERT INTO medley_stat (queue, state, minute, count) VALUES (new.queue, new.state, 0, 1)
    ON CONFLICT (queue, state, minute) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER medley_job_stat_finished AFTER UPDATE OF state ON medley_job
WHEN old.state IS NOT new.state AND new.state IN ('succeeded', 'failed')
BEGIN
    INSERT INTO medley_stat (queue, state, minute, count)
    VALUES (new.queue, new.state, CAST(strftime('%s', 'now') AS INTEGER) / 60 * 60, 1)
    ON CONFLICT (queue, state, minute) DO UPDATE SET count = count + 1;
END;

-- Throughput rows are kept for a day; about one finished job in 1000 sweeps older ones.
CREATE TRIGGER medley_job_stat_sweep AFTER UPDATE OF state ON medley_job
WHEN new.state IN ('succeeded', 'failed') AND abs(random() % 1000) = 0
BEGIN
    DELETE FROM medley_stat WHERE minute > 0 AND minute < CAST(strftime('%s', 'now') AS INTEGER) - 86400;
END;
