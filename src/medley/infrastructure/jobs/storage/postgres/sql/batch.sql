-- Batches: counters on medley_batch, maintained in the transaction that finishes each
-- member. The batch row's lock orders concurrent finishers, so exactly one sees `pending`
-- reach zero and releases the callbacks; batch_add takes the same lock, so no job joins a
-- batch after that.

-- name: batch_insert
INSERT INTO medley_batch (description, total, pending, on_complete_id, on_success_id)
VALUES (%(description)s, %(total)s, %(total)s, %(on_complete_id)s, %(on_success_id)s)
RETURNING id

-- name: batch_attach
-- Just-inserted members (same transaction) join the batch, their outcome still to count.
UPDATE medley_job SET batch_id = %(batch_id)s, batch_pending = true
WHERE id = ANY(%(id)s::bigint[])

-- name: batch_add
-- A finished batch (finished_at set by batch_resolve under this same row lock) takes no
-- more jobs: the caller then reports BatchClosedError (or not found, if no row at all).
UPDATE medley_batch SET total = total + %(count)s, pending = pending + %(count)s
WHERE id = %(id)s AND finished_at IS NULL
RETURNING id

-- name: batch_get
SELECT * FROM medley_batch WHERE id = %(id)s

-- name: batch_resolve
-- Members that just reached a final state are counted once (batch_pending goes false under
-- the member's row lock), each batch's counters move by the tally, and a batch whose last
-- member this was releases its callbacks with the summary as kwargs.batch: on_complete is
-- enqueued; on_success too if nothing failed, otherwise it is cancelled. Returns callbacks
-- that became final or runnable, for the caller to settle their own dependants.
WITH finished AS (
    SELECT * FROM unnest(%(id)s::bigint[], %(state)s::text[]) AS f(id, state)
),
counted AS (
    UPDATE medley_job j SET batch_pending = false
    FROM finished f WHERE j.id = f.id AND j.batch_pending
    RETURNING j.batch_id, f.state
),
tally AS (
    SELECT batch_id, count(*) AS done,
           count(*) FILTER (WHERE state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           count(*) FILTER (WHERE state = 'cancelled') AS cancelled
    FROM counted GROUP BY batch_id
),
batch AS (
    UPDATE medley_batch b
    SET pending = b.pending - t.done, succeeded = b.succeeded + t.succeeded,
        failed = b.failed + t.failed, cancelled = b.cancelled + t.cancelled,
        finished_at = CASE WHEN b.pending - t.done <= 0 THEN now() END
    FROM tally t WHERE b.id = t.batch_id
    RETURNING b.*
),
released AS (
    UPDATE medley_job c
    SET state = CASE WHEN c.id = b.on_success_id AND b.failed + b.cancelled > 0
                     THEN 'cancelled' ELSE 'enqueued' END,
        kwargs = c.kwargs || jsonb_build_object('batch', jsonb_build_object(
            'id', b.id, 'total', b.total, 'succeeded', b.succeeded, 'failed', b.failed,
            'cancelled', b.cancelled)),
        run_at = now(),
        finished_at = CASE WHEN c.id = b.on_success_id AND b.failed + b.cancelled > 0
                           THEN now() END,
        error = CASE WHEN c.id = b.on_success_id AND b.failed + b.cancelled > 0
                     THEN jsonb_build_object(
                         'type', 'DependencyFailedError',
                         'message', format('batch %%s finished with %%s failed and %%s cancelled jobs',
                                           b.id, b.failed, b.cancelled),
                         'traceback', NULL)
                     ELSE c.error END
    FROM batch b
    WHERE b.finished_at IS NOT NULL AND c.id IN (b.on_complete_id, b.on_success_id)
      AND c.state = 'awaiting'
    RETURNING c.id, c.state, c.queue, c.attempt, c.error, c.dependants, c.batch_pending
),
history AS (
    INSERT INTO medley_job_history (job_id, from_state, to_state, reason, attempt, error)
    SELECT id, 'awaiting', state,
           CASE state WHEN 'cancelled' THEN 'dependency_failed' ELSE 'continued' END, attempt,
           CASE state WHEN 'cancelled' THEN error END
    FROM released
),
notified AS (
    SELECT pg_notify('medley_job', q.queue)
    FROM (SELECT DISTINCT queue FROM released WHERE state = 'enqueued') q
)
SELECT id, state, dependants, batch_pending FROM released
WHERE (SELECT count(*) FROM notified) >= 0
