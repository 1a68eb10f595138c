-- Medley schema, version 2, SQLite dialect: per-job log lines, same meaning as
-- PostgreSQL's. Times are REAL unix seconds.

-- `seq` numbers every line a job ever logged, dropped ones included (dropped = min(seq) - 1);
-- `offset_bytes` counts the message bytes of every earlier line the same way.
CREATE TABLE medley_job_log (
    job_id  INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at      REAL    NOT NULL,
    level   TEXT    NOT NULL,
    logger  TEXT    NOT NULL,
    message TEXT    NOT NULL,
    offset_bytes INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

-- No foreign key (a log write racing a deletion must not fail); deleting a job deletes its
-- lines. SQLite triggers are row-level: one primary-key range delete per deleted job.
CREATE TRIGGER medley_job_log_delete AFTER DELETE ON medley_job
BEGIN
    DELETE FROM medley_job_log WHERE job_id = OLD.id;
END;
