-- Medley schema, version 4: what the web layer needs. Dashboard users and API tokens,
-- paused queues, maintained job counters (so that no page counts a million rows), and the
-- notification that feeds the live event stream.

CREATE TABLE medley_user (
    name          text        PRIMARY KEY,
    password_hash text        NOT NULL,                 -- argon2id, never the password
    role          text        NOT NULL CHECK (role IN ('viewer', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE medley_token (
    id         bigserial   PRIMARY KEY,
    name       text        NOT NULL DEFAULT '',
    token_hash text        NOT NULL UNIQUE,              -- sha256 of a 256-bit random secret
    role       text        NOT NULL CHECK (role IN ('viewer', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- One row per queue that was ever paused. job_fetch_available skips a paused queue with a
-- primary-key probe of this tiny table.
CREATE TABLE medley_queue (
    name       text        PRIMARY KEY,
    paused     boolean     NOT NULL DEFAULT false,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- Serve the dashboard's search by job name and by tag, newest first, at millions of rows.
CREATE INDEX medley_job_name_idx ON medley_job (job, id);
CREATE INDEX medley_job_tags_idx ON medley_job USING gin (tags jsonb_path_ops);

-- Maintained counters (Hangfire's Counter/AggregatedCounter). `minute = 'epoch'` rows hold
-- the number of jobs per (queue, state); other rows count jobs that entered `succeeded` or
-- `failed` during that minute (the throughput chart, kept for a day).
CREATE TABLE medley_stat (
    queue  text        NOT NULL,
    state  text        NOT NULL,
    minute timestamptz NOT NULL,
    count  bigint      NOT NULL,
    PRIMARY KEY (queue, state, minute)
);

-- Triggers only ever append here, so concurrent writers never wait on one counter row
-- (a job enqueued inside a caller's long transaction would otherwise lock its queue's
-- counter until that transaction ends). medley_stat_compact folds the deltas in.
CREATE TABLE medley_stat_delta (
    id     bigserial   PRIMARY KEY,
    queue  text        NOT NULL,
    state  text        NOT NULL,
    minute timestamptz NOT NULL,
    delta  bigint      NOT NULL
);

INSERT INTO medley_stat (queue, state, minute, count)
SELECT queue, state, 'epoch', count(*) FROM medley_job GROUP BY queue, state;

-- Fold deltas into medley_stat. One compactor at a time (the others skip, they are not
-- needed); deltas committed meanwhile are left for the next run. Readers add medley_stat
-- and medley_stat_delta in one snapshot, so a compaction never shows a wrong total.
CREATE FUNCTION medley_stat_compact() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('medley_stat_compact')) THEN
        RETURN;
    END IF;
    WITH folded AS (
        DELETE FROM medley_stat_delta RETURNING queue, state, minute, delta
    ), summed AS (
        SELECT queue, state, minute, sum(delta) AS delta FROM folded
        GROUP BY queue, state, minute
    )
    INSERT INTO medley_stat AS s (queue, state, minute, count)
    SELECT queue, state, minute, delta FROM summed ORDER BY queue, state, minute
    ON CONFLICT (queue, state, minute) DO UPDATE SET count = s.count + excluded.count;
    DELETE FROM medley_stat
    WHERE minute > 'epoch' AND minute < now() - interval '1 day';
END;
$$;

-- Statement-level triggers with transition tables: one small INSERT per statement, however
-- many rows it touched (a fetch of 200 jobs, a COPY of 100,000). About one statement in 32
-- also compacts, so the delta table stays a few hundred rows without any scheduler.
CREATE FUNCTION medley_job_stat_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO medley_stat_delta (queue, state, minute, delta)
    SELECT queue, state, 'epoch', count(*) FROM new_rows GROUP BY queue, state;
    IF random() < 1.0 / 32 THEN
        PERFORM medley_stat_compact();
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION medley_job_stat_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO medley_stat_delta (queue, state, minute, delta)
    SELECT queue, state, 'epoch', -count(*) FROM old_rows GROUP BY queue, state;
    IF random() < 1.0 / 32 THEN
        PERFORM medley_stat_compact();
    END IF;
    RETURN NULL;
END;
$$;

-- Updates also feed the live event stream: one NOTIFY per statement naming the jobs whose
-- state or progress changed (the web process holds one LISTEN connection and fans it out).
-- Payloads stay under PostgreSQL's 8000-byte limit by chunking the id list.
CREATE FUNCTION medley_job_stat_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint[];
    chunk   int := 500;
BEGIN
    WITH moved AS (
        SELECT o.queue AS old_queue, o.state AS old_state, n.queue, n.state
        FROM old_rows o JOIN new_rows n USING (id)
        WHERE o.state IS DISTINCT FROM n.state OR o.queue IS DISTINCT FROM n.queue
    ), deltas AS (
        SELECT old_queue AS queue, old_state AS state, 'epoch'::timestamptz AS minute,
               -1 AS delta FROM moved
        UNION ALL
        SELECT queue, state, 'epoch', 1 FROM moved
        UNION ALL
        SELECT queue, state, date_trunc('minute', now()), 1 FROM moved
        WHERE state IN ('succeeded', 'failed')
    )
    INSERT INTO medley_stat_delta (queue, state, minute, delta)
    SELECT queue, state, minute, sum(delta) FROM deltas
    GROUP BY queue, state, minute HAVING sum(delta) <> 0;

    SELECT array_agg(n.id ORDER BY n.id) INTO changed
    FROM old_rows o JOIN new_rows n USING (id)
    WHERE o.state IS DISTINCT FROM n.state
       OR o.progress_fraction IS DISTINCT FROM n.progress_fraction
       OR o.progress_message IS DISTINCT FROM n.progress_message
       OR o.cancel_requested IS DISTINCT FROM n.cancel_requested;
    IF changed IS NOT NULL THEN
        FOR i IN 1 .. cardinality(changed) BY chunk LOOP
            PERFORM pg_notify('medley_event', array_to_string(changed[i : i + chunk - 1], ','));
        END LOOP;
    END IF;
    IF random() < 1.0 / 32 THEN
        PERFORM medley_stat_compact();
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER medley_job_stat_insert AFTER INSERT ON medley_job
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION medley_job_stat_insert();
CREATE TRIGGER medley_job_stat_update AFTER UPDATE ON medley_job
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medley_job_stat_update();
CREATE TRIGGER medley_job_stat_delete AFTER DELETE ON medley_job
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION medley_job_stat_delete();

CREATE FUNCTION medley_job_stat_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM medley_stat_delta;
    DELETE FROM medley_stat;
    RETURN NULL;
END;
$$;
CREATE TRIGGER medley_job_stat_truncate AFTER TRUNCATE ON medley_job
    FOR EACH STATEMENT EXECUTE FUNCTION medley_job_stat_truncate();
