-- Medley schema, version 7, SQLite dialect: rate limits on named limits. Same meaning as
-- PostgreSQL's (see its 0007): an optional `max_running`, a start `rate` and a token
-- budget per `period_seconds`, and `blocked_until`. SQLite cannot drop a NOT NULL
-- constraint, so medley_limit (a few rows) is rebuilt; times are unix seconds (REAL).
CREATE TABLE medley_limit_new (
    name           TEXT    PRIMARY KEY,
    max_running    INTEGER CHECK (max_running >= 0),
    source         TEXT    NOT NULL DEFAULT 'code' CHECK (source IN ('code', 'runtime')),
    updated_at     REAL    NOT NULL,
    rate           INTEGER CHECK (rate > 0),
    tokens         INTEGER CHECK (tokens > 0),
    period_seconds REAL    NOT NULL DEFAULT 60 CHECK (period_seconds > 0),
    blocked_until  REAL
);
INSERT INTO medley_limit_new (name, max_running, source, updated_at)
SELECT name, max_running, source, updated_at FROM medley_limit;
DROP TABLE medley_limit;
ALTER TABLE medley_limit_new RENAME TO medley_limit;

-- Bucket state per (limit, key), as PostgreSQL's: NULL or past is a full bucket.
ALTER TABLE medley_limit_usage ADD COLUMN starts_tat REAL;
ALTER TABLE medley_limit_usage ADD COLUMN tokens_tat REAL;
