-- Batches, SQLite dialect: same meaning as PostgreSQL's batch.sql; the single write lock
-- (BEGIN IMMEDIATE) orders finishers and additions instead of the batch row's lock.

-- name: batch_insert
INSERT INTO medley_batch (description, total, pending, on_complete_id, on_success_id, created_at)
VALUES (:description, :total, :total, :on_complete_id, :on_success_id, :now)
RETURNING id

-- name: batch_attach
-- SQLite has no arrays: :ids is a JSON array.
UPDATE medley_job SET batch_id = :batch_id, batch_pending = 1
WHERE id IN (SELECT value FROM json_each(:ids))

-- name: batch_add
UPDATE medley_batch SET total = total + :count, pending = pending + :count
WHERE id = :id AND finished_at IS NULL
RETURNING id

-- name: batch_get
SELECT * FROM medley_batch WHERE id = :id

-- name: batch_resolve
-- :finished is a JSON array of {id, state}. No writing CTEs: the batches are tallied
-- first (while the members still show batch_pending), then the members are marked
-- counted, then the callbacks of batches that just finished get their history (before
-- the change, as elsewhere) and are released with the summary as kwargs.batch.
WITH f AS (SELECT value ->> '$.id' AS id, value ->> '$.state' AS state FROM json_each(:finished)),
counted AS (
    SELECT j.batch_id, f.state FROM f JOIN medley_job AS j ON j.id = f.id WHERE j.batch_pending
)
UPDATE medley_batch AS b
SET pending = b.pending - t.done, succeeded = b.succeeded + t.succeeded,
    failed = b.failed + t.failed, cancelled = b.cancelled + t.cancelled,
    finished_at = CASE WHEN b.pending - t.done <= 0 THEN :now END
FROM (
    SELECT batch_id, count(*) AS done, sum(state = 'succeeded') AS succeeded,
           sum(state = 'failed') AS failed, sum(state = 'cancelled') AS cancelled
    FROM counted GROUP BY batch_id
) AS t
WHERE b.id = t.batch_id;
UPDATE medley_job SET batch_pending = 0
WHERE batch_pending AND id IN (SELECT value ->> '$.id' FROM json_each(:finished));
INSERT INTO medley_job_history (job_id, at, from_state, to_state, reason, attempt, error)
SELECT c.id, :now, 'awaiting',
       CASE WHEN c.id = b.on_success_id AND b.failed + b.cancelled > 0
            THEN 'cancelled' ELSE 'enqueued' END,
       CASE WHEN c.id = b.on_success_id AND b.failed + b.cancelled > 0
            THEN 'dependency_failed' ELSE 'continued' END,
       c.attempt,
       CASE WHEN c.id = b.on_success_id AND b.failed + b.cancelled > 0 THEN json_object(
           'type', 'DependencyFailedError',
           'message', printf('batch %d finished with %d failed and %d cancelled jobs',
                             b.id, b.failed, b.cancelled),
           'traceback', NULL) END
FROM medley_batch AS b JOIN medley_job AS c ON c.id IN (b.on_complete_id, b.on_success_id)
WHERE b.finished_at IS NOT NULL AND c.state = 'awaiting'
  AND b.id IN (SELECT j.batch_id FROM medley_job AS j
               WHERE j.id IN (SELECT value ->> '$.id' FROM json_each(:finished)));
UPDATE medley_job AS c
SET state = CASE WHEN c.id = b.on_success_id AND b.failed + b.cancelled > 0
                 THEN 'cancelled' ELSE 'enqueued' END,
    kwargs = json_set(c.kwargs, '$.batch', json_object(
        'id', b.id, 'total', b.total, 'succeeded', b.succeeded, 'failed', b.failed,
        'cancelled', b.cancelled)),
    run_at = :now,
    finished_at = CASE WHEN c.id = b.on_success_id AND b.failed + b.cancelled > 0
                       THEN :now END,
    error = CASE WHEN c.id = b.on_success_id AND b.failed + b.cancelled > 0 THEN json_object(
                'type', 'DependencyFailedError',
                'message', printf('batch %d finished with %d failed and %d cancelled jobs',
                                  b.id, b.failed, b.cancelled),
                'traceback', NULL)
            ELSE c.error END
FROM medley_batch AS b
WHERE c.id IN (b.on_complete_id, b.on_success_id) AND b.finished_at IS NOT NULL
  AND c.state = 'awaiting'
  AND b.id IN (SELECT j.batch_id FROM medley_job AS j
               WHERE j.id IN (SELECT value ->> '$.id' FROM json_each(:finished)))
RETURNING id, state, dependants, batch_pending
