-- Times are bound by the adapter as REAL unix seconds (:now), so one operation uses one
-- instant for every row and history entry it writes. A block may hold several statements,
-- ending with `;` at a line end: the adapter runs them in order in one transaction and
-- returns the rows of all of them (PostgreSQL does the same with CTEs in one statement).
-- Every write runs inside BEGIN IMMEDIATE, which takes SQLite's single write lock: that is
-- what PostgreSQL's row locks (FOR UPDATE, SKIP LOCKED) do here.

-- name: job_insert_many
-- SQLite has no arrays to unnest: the adapter runs this one-row statement through
-- executemany for the whole batch, with ids drawn by job_reserve_ids. The conflict target
-- is the partial unique index, so a row whose key a live job holds is skipped; the adapter
-- then finds the holder with job_get_live_by_unique_key.
INSERT INTO medley_job (id, job, queue, priority, state, args, kwargs, run_at, max_attempts,
                        timeout_seconds, unique_key, tags, meta, created_at)
VALUES (:id, :job, :queue, :priority, :state, :args, :kwargs, coalesce(:run_at, :now),
        :max_attempts, :timeout_seconds, :unique_key, :tags, :meta, :now)
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL
    AND state IN ('scheduled', 'enqueued', 'processing', 'awaiting') DO NOTHING

-- name: job_get_live_by_unique_key
-- SQLite has no arrays: the keys arrive as one JSON array. `unique_key IS NOT NULL` and the
-- state list repeat the partial unique index's condition, which makes the index usable;
-- INDEXED BY makes it used (without statistics SQLite would walk medley_job_state_idx).
SELECT id, state, unique_key FROM medley_job INDEXED BY medley_job_unique_idx
WHERE unique_key IN (SELECT value FROM json_each(:unique_keys))
  AND unique_key IS NOT NULL
  AND state IN ('scheduled', 'enqueued', 'processing', 'awaiting')

-- name: job_reserve_ids
-- SQLite has no sequences. Under the write lock nobody else draws ids, so a batch takes the
-- ids after the highest ever used (sqlite_sequence remembers deleted ones, as AUTOINCREMENT
-- promises) and inserts them explicitly; then a batch is one id range.
SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'medley_job'), 0),
           coalesce((SELECT max(id) FROM medley_job), 0)) AS last_id

-- name: job_copy
-- SQLite has no COPY and needs none: job_insert_many through executemany is its bulk path
-- (one prepared statement, no round trips). Unused; defined so that both backends have the
-- same query names.
SELECT NULL AS unused WHERE 0

-- name: job_fetch_available
-- SQLite has no SKIP LOCKED and needs none: the adapter holds the write lock (BEGIN
-- IMMEDIATE), so concurrent fetchers queue up and never see the same row as claimable.
-- RETURNING shows rows after the change only, so the history, which needs the state
-- before, is written first from the same candidate query (same snapshot, same order).
-- Due `scheduled` jobs are claimed directly. Served by medley_job_fetch_idx. A paused
-- queue (medley_queue) yields nothing: one primary-key probe of a tiny table. A job of a
-- defined limit is claimed only if limit_fetch_grantable (same transaction) granted it a
-- slot and put it in :limited (a JSON array of ids).
INSERT INTO medley_job_history (job_id, at, from_state, to_state, reason, attempt, worker)
SELECT id, :now, state, 'processing', 'fetched', attempt + 1, :worker_id
FROM medley_job
WHERE id IN (
    SELECT id FROM medley_job
    WHERE queue = :queue AND state IN ('enqueued', 'scheduled') AND run_at <= :now
      AND NOT EXISTS (SELECT 1 FROM medley_queue p WHERE p.name = :queue AND p.paused)
      AND (limit_name IS NULL OR id IN (SELECT value FROM json_each(:limited))
           OR NOT EXISTS (SELECT 1 FROM medley_limit l WHERE l.name = limit_name))
    ORDER BY priority, run_at, id
    LIMIT :limit
);
UPDATE medley_job
SET state = 'processing', attempt = attempt + 1, lease_owner = :worker_id,
    started_at = :now, progress_fraction = NULL, progress_message = NULL,
    cancel_requested = 0
WHERE id IN (
    SELECT id FROM medley_job
    WHERE queue = :queue AND state IN ('enqueued', 'scheduled') AND run_at <= :now
      AND NOT EXISTS (SELECT 1 FROM medley_queue p WHERE p.name = :queue AND p.paused)
      AND (limit_name IS NULL OR id IN (SELECT value FROM json_each(:limited))
           OR NOT EXISTS (SELECT 1 FROM medley_limit l WHERE l.name = limit_name))
    ORDER BY priority, run_at, id
    LIMIT :limit
)
RETURNING *

-- name: job_set_state_if_processing
-- SQLite has no arrays: the outcomes arrive as one JSON array of objects (json_each), and
-- RETURNING cannot show the FROM side, so the history is written first under the very guard
-- the UPDATE uses (the fencing token: still processing, same owner, same attempt). A late
-- write from a worker that lost the job changes nothing and is left out of the result.
-- The adapter passes at most one outcome per (job, attempt). The plan is pinned (CROSS
-- JOIN, NOT INDEXED): without statistics SQLite would loop over the processing rows and
-- scan the JSON for each, instead of looking each outcome's job up by id.
WITH u AS (
    SELECT value ->> '$.id' AS id, value ->> '$.attempt' AS attempt,
           value ->> '$.state' AS state, value ->> '$.reason' AS reason,
           value ->> '$.error' AS error
    FROM json_each(:outcomes)
)
INSERT INTO medley_job_history (job_id, at, from_state, to_state, reason, attempt, worker, error)
SELECT j.id, :now, 'processing', u.state, u.reason, u.attempt, :worker_id, u.error
FROM u CROSS JOIN medley_job AS j ON j.id = u.id
WHERE j.state = 'processing' AND j.lease_owner = :worker_id AND j.attempt = u.attempt;
UPDATE medley_job AS j NOT INDEXED
SET state = u.state,
    result = u.result,
    error = CASE WHEN u.state = 'succeeded' THEN NULL ELSE coalesce(u.error, j.error) END,
    run_at = coalesce(u.run_at, j.run_at),
    attempt = CASE WHEN u.release THEN j.attempt - 1 ELSE j.attempt END,
    progress_fraction = coalesce(u.progress_fraction, j.progress_fraction),
    progress_message = coalesce(u.progress_message, j.progress_message),
    finished_at = CASE WHEN u.state IN ('succeeded', 'failed', 'cancelled') THEN :now END,
    lease_owner = NULL,
    cancel_requested = 0
FROM (
    SELECT value ->> '$.id' AS id, value ->> '$.attempt' AS attempt,
           value ->> '$.state' AS state, value ->> '$.result' AS result,
           value ->> '$.error' AS error, value ->> '$.run_at' AS run_at,
           value ->> '$.progress_fraction' AS progress_fraction,
           value ->> '$.progress_message' AS progress_message,
           value ->> '$.release' AS release
    FROM json_each(:outcomes)
) AS u
WHERE j.id = u.id AND j.state = 'processing' AND j.lease_owner = :worker_id
  AND j.attempt = u.attempt
RETURNING id, state, dependants, batch_pending, limit_name, limit_key

-- name: job_progress_update
-- SQLite has no arrays: the adapter runs this one-row statement through executemany.
UPDATE medley_job
SET progress_fraction = :fraction, progress_message = :message
WHERE id = :id AND state = 'processing' AND lease_owner = :worker_id AND attempt = :attempt

-- name: job_get
SELECT * FROM medley_job WHERE id = :id

-- name: job_history
-- A job's creation is read from the job, not stored (see PostgreSQL's job_history).
WITH stored AS (
    SELECT id, job_id, at, from_state, to_state, reason, attempt, worker, error
    FROM medley_job_history WHERE job_id = :id
),
first AS (SELECT from_state FROM stored ORDER BY id LIMIT 1)
SELECT job_id, at, from_state, to_state, reason, attempt, worker, error FROM (
    SELECT 0 AS id, j.id AS job_id, j.created_at AS at, NULL AS from_state,
           coalesce((SELECT from_state FROM first), j.state) AS to_state,
           CASE coalesce((SELECT from_state FROM first), j.state)
               WHEN 'scheduled' THEN 'scheduled' ELSE 'enqueued' END AS reason,
           0 AS attempt, NULL AS worker, NULL AS error
    FROM medley_job j
    WHERE j.id = :id AND NOT EXISTS (SELECT 1 FROM first WHERE from_state IS NULL)
    UNION ALL
    SELECT * FROM stored
)
ORDER BY id

-- name: job_list
-- Unlike PostgreSQL's, the filters are not "(:x IS NULL OR col = :x)": SQLite plans a
-- statement without looking at the values, so that form would never use
-- medley_job_state_idx and a filtered page could scan the whole table. The adapter
-- replaces the always-true condition below with the fixed conditions of the filters in
-- use (`state = :state`, `queue = :queue`, `job = :job`, `id < :before_id`); values are
-- always bound, never put in the text.
SELECT * FROM medley_job
WHERE 1 = 1
ORDER BY id DESC
LIMIT :limit

-- name: job_cancel
-- Waiting jobs are cancelled at once; a processing job is only flagged (SQLite cannot
-- notify: its worker polls job_get_cancel_requested). History first, while the state
-- before is still there; the last statement returns the row after the change, or the
-- unchanged row of a final job.
INSERT INTO medley_job_history (job_id, at, from_state, to_state, reason, attempt)
SELECT id, :now, state, 'cancelled', 'cancelled', attempt FROM medley_job
WHERE id = :id AND state IN ('scheduled', 'enqueued', 'awaiting');
UPDATE medley_job SET state = 'cancelled', finished_at = :now, lease_owner = NULL
WHERE id = :id AND state IN ('scheduled', 'enqueued', 'awaiting');
UPDATE medley_job SET cancel_requested = 1
WHERE id = :id AND state = 'processing';
SELECT * FROM medley_job WHERE id = :id

-- name: job_retry
-- History first, while the state before is still there. The last error is kept, so the
-- job's page still shows why it failed before the retry. A live job holding the same
-- unique key makes the UPDATE fail on medley_job_unique_idx (DuplicateJobError).
INSERT INTO medley_job_history (job_id, at, from_state, to_state, reason, attempt)
SELECT id, :now, state, 'enqueued', 'retried_by_user', attempt FROM medley_job
WHERE id = :id AND state IN ('failed', 'cancelled', 'succeeded');
UPDATE medley_job
SET state = 'enqueued', attempt = 0, run_at = :now, result = NULL, finished_at = NULL,
    progress_fraction = NULL, progress_message = NULL, cancel_requested = 0
WHERE id = :id AND state IN ('failed', 'cancelled', 'succeeded');
SELECT * FROM medley_job WHERE id = :id

-- name: job_delete
-- Returns the deleted row, or (from the last statement) the processing row left in place.
DELETE FROM medley_job_history
WHERE job_id = :id
  AND EXISTS (SELECT 1 FROM medley_job WHERE id = :id AND state <> 'processing');
DELETE FROM medley_job WHERE id = :id AND state <> 'processing'
RETURNING *;
SELECT * FROM medley_job WHERE id = :id

-- name: job_bulk_select
-- The targets of job_retry_many / job_delete_many, chosen under the write lock. SQLite has
-- no arrays: states arrive as a JSON array. Live holders of a unique key are excluded for
-- retries only (:for_retry), as on PostgreSQL.
SELECT j.id FROM medley_job AS j
WHERE j.state IN (SELECT value FROM json_each(:states))
  AND (:queue IS NULL OR j.queue = :queue)
  AND (:job IS NULL OR j.job = :job)
  AND (:error_type IS NULL OR j.error ->> '$.type' = :error_type)
  AND (NOT :for_retry OR j.unique_key IS NULL OR NOT EXISTS (
      SELECT 1 FROM medley_job AS l WHERE l.unique_key = j.unique_key
        AND l.state IN ('scheduled', 'enqueued', 'processing', 'awaiting')))
ORDER BY j.id
LIMIT :limit

-- name: job_retry_many
-- :ids is a JSON array from job_bulk_select, in the same transaction. History first,
-- while the state before is still there.
INSERT INTO medley_job_history (job_id, at, from_state, to_state, reason, attempt)
SELECT id, :now, state, 'enqueued', 'retried_by_user', attempt FROM medley_job
WHERE id IN (SELECT value FROM json_each(:ids));
UPDATE medley_job
SET state = 'enqueued', attempt = 0, run_at = :now, result = NULL, finished_at = NULL,
    progress_fraction = NULL, progress_message = NULL, cancel_requested = 0
WHERE id IN (SELECT value FROM json_each(:ids))

-- name: job_delete_many
DELETE FROM medley_job_history WHERE job_id IN (SELECT value FROM json_each(:ids));
DELETE FROM medley_job WHERE id IN (SELECT value FROM json_each(:ids))

-- name: job_get_held
-- Served by medley_job_processing_idx.
SELECT id, attempt, cancel_requested FROM medley_job
WHERE state = 'processing' AND lease_owner = :worker_id

-- name: job_get_cancel_requested
-- Served by medley_job_processing_idx.
SELECT id FROM medley_job
WHERE state = 'processing' AND lease_owner = :worker_id AND cancel_requested

-- name: job_rescue_candidates
-- Processing jobs whose owner has not heartbeaten within the lease (or never registered).
-- No FOR UPDATE in SQLite: the adapter runs this and job_rescue under one write lock.
SELECT j.id, j.attempt, j.lease_owner FROM medley_job AS j
WHERE j.state = 'processing'
  AND NOT EXISTS (
      SELECT 1 FROM medley_server AS s
      WHERE s.id = j.lease_owner AND s.heartbeat_at >= :now - :lease_seconds
  )

-- name: job_rescue
-- A job whose cancel was requested before its worker died ends cancelled, not retried.
-- SQLite has no arrays: the candidates arrive as one JSON array of objects. Re-checks the
-- same dead owner and attempt, as PostgreSQL's does. History first, under the same guard,
-- because RETURNING cannot show the owner before the change. Plan pinned as in
-- job_set_state_if_processing.
WITH u AS (
    SELECT value ->> '$.id' AS id, value ->> '$.attempt' AS attempt,
           value ->> '$.owner' AS owner
    FROM json_each(:candidates)
)
INSERT INTO medley_job_history (job_id, at, from_state, to_state, reason, attempt, worker, error)
SELECT j.id, :now, 'processing',
       CASE WHEN j.cancel_requested THEN 'cancelled'
            WHEN j.attempt < j.max_attempts THEN 'scheduled' ELSE 'failed' END,
       'rescued', j.attempt, u.owner, :error
FROM u CROSS JOIN medley_job AS j ON j.id = u.id
WHERE j.state = 'processing' AND j.lease_owner = u.owner AND j.attempt = u.attempt;
UPDATE medley_job AS j NOT INDEXED
SET state = CASE WHEN j.cancel_requested THEN 'cancelled'
                 WHEN j.attempt < j.max_attempts THEN 'scheduled' ELSE 'failed' END,
    run_at = CASE WHEN j.attempt < j.max_attempts THEN coalesce(u.run_at, j.run_at)
                  ELSE j.run_at END,
    finished_at = CASE WHEN j.attempt < j.max_attempts AND NOT j.cancel_requested
                       THEN NULL ELSE :now END,
    error = :error,
    lease_owner = NULL,
    cancel_requested = 0
FROM (
    SELECT value ->> '$.id' AS id, value ->> '$.attempt' AS attempt,
           value ->> '$.owner' AS owner, value ->> '$.run_at' AS run_at
    FROM json_each(:candidates)
) AS u
WHERE j.id = u.id AND j.state = 'processing' AND j.lease_owner = u.owner
  AND j.attempt = u.attempt
RETURNING *

-- name: job_prune
-- Served by medley_job_finished_idx. History first, by the same condition.
DELETE FROM medley_job_history
WHERE job_id IN (
    SELECT id FROM medley_job WHERE state = :state AND finished_at < :finished_before
);
DELETE FROM medley_job WHERE state = :state AND finished_at < :finished_before

-- name: job_count_by_state
SELECT queue, state, count(*) AS count FROM medley_job GROUP BY queue, state ORDER BY queue, state
