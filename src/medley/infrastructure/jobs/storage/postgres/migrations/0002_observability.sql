-- Medley schema, version 2: per-job log lines (captured from `ctx.log`, and optionally
-- every record logged while the job runs), shown on the job's page and by the API.

-- `seq` numbers every line a job ever logged, dropped ones included, so the number of
-- lines dropped to stay within the bounds is min(seq) - 1 and needs no counter of its
-- own; `offset_bytes` counts the message bytes of every earlier line the same way. The
-- kept lines are always one run of the newest, so both bounds are found by probing the
-- primary key, and trimming deletes a key range. The primary key serves the job page too.
CREATE TABLE medley_job_log (
    job_id  bigint      NOT NULL,
    seq     bigint      NOT NULL,
    attempt integer     NOT NULL,
    at      timestamptz NOT NULL,
    level   text        NOT NULL,
    logger  text        NOT NULL,
    message text        NOT NULL,
    offset_bytes bigint NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- No foreign key: a log write racing a job's deletion must not fail the worker's batch
-- (job_log_append skips lines of jobs that are gone). Instead, deleting jobs (delete,
-- bulk delete, retention) deletes their lines in the same statement: one statement-level
-- trigger joining the deleted rows, however many there are.
CREATE FUNCTION medley_job_log_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM medley_job_log l USING old_rows o WHERE l.job_id = o.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER medley_job_log_delete AFTER DELETE ON medley_job
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION medley_job_log_delete();
