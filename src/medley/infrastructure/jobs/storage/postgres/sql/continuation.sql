-- Continuations: a job declared with depends_on waits in `awaiting` until its parents are
-- final. Pending edges live in medley_job_dependency; the dependant counts its unresolved
-- parents in awaiting_parents. Correctness under concurrency rests on row locks, not on
-- snapshots (READ COMMITTED gives each statement its own):
-- * an enqueue locks and marks every parent first (continuation_lock_parents), so a parent
--   completing at the same time either commits before (the enqueue then sees it final and
--   resolves the edge itself) or waits, and re-checks `dependants` on the fresh row;
-- * two parents finishing at once both decrement the dependant's counter under its row
--   lock, so exactly one of them sees it reach zero and releases it.

-- name: continuation_lock_parents
-- Marks each parent as having dependants (the completer's fast path then leaves it to the
-- resolving path) and returns its state after any concurrent completion has committed:
-- UPDATE waits for a row another transaction holds and reads its newest version. Parents
-- are locked in id order so that two enqueues sharing parents cannot deadlock.
WITH target AS (
    SELECT j.id FROM medley_job j
    WHERE j.id = ANY(%(id)s::bigint[])
    ORDER BY j.id
    FOR UPDATE
)
UPDATE medley_job j SET dependants = j.dependants + c.n
FROM target t
JOIN unnest(%(id)s::bigint[], %(count)s::int[]) AS c(id, n) ON c.id = t.id
WHERE j.id = t.id
RETURNING j.id, j.state

-- name: continuation_attach
-- Just-inserted dependants (same transaction) get their parents and counters, and the
-- pending edges are written. The edges' continue_on is the dependant's own.
WITH child AS (
    SELECT * FROM unnest(%(id)s::bigint[], %(depends_on)s::jsonb[], %(continue_on)s::text[])
        AS c(id, depends_on, continue_on)
),
attached AS (
    UPDATE medley_job j
    SET depends_on = c.depends_on, continue_on = c.continue_on,
        awaiting_parents = jsonb_array_length(c.depends_on)
    FROM child c WHERE j.id = c.id
    RETURNING j.id
)
INSERT INTO medley_job_dependency (parent_id, job_id, continue_on)
SELECT p.value::bigint, c.id, c.continue_on
FROM child c CROSS JOIN LATERAL jsonb_array_elements_text(c.depends_on) AS p(value)
WHERE (SELECT count(*) FROM attached) >= 0
ON CONFLICT DO NOTHING

-- name: continuation_resolve
-- Jobs that just reached a final state (:id, :state) settle their dependants: the pending
-- edges are deleted (so settling twice is a no-op); a dependant that needs success and has
-- a parent that failed or was cancelled is cancelled with that reason; any other has its
-- counter decremented and is enqueued when it reaches zero. Returns the dependants that
-- became final or runnable: the caller settles the cancelled ones in turn (transitively).
WITH finished AS (
    SELECT * FROM unnest(%(id)s::bigint[], %(state)s::text[]) AS f(id, state)
),
edge AS (
    DELETE FROM medley_job_dependency d USING finished f
    WHERE d.parent_id = f.id
    RETURNING d.job_id, d.parent_id, d.continue_on, f.state AS parent_state
),
verdict AS (
    SELECT job_id,
           count(*) FILTER (WHERE parent_state = 'succeeded' OR continue_on = 'any')
               AS satisfied,
           min(parent_id) FILTER (WHERE parent_state <> 'succeeded' AND continue_on = 'success')
               AS failed_parent,
           (array_agg(parent_state ORDER BY parent_id)
               FILTER (WHERE parent_state <> 'succeeded' AND continue_on = 'success'))[1]
               AS failed_state
    FROM edge GROUP BY job_id
),
changed AS (
    UPDATE medley_job j
    SET state = CASE WHEN v.failed_parent IS NOT NULL THEN 'cancelled'
                     WHEN j.awaiting_parents <= v.satisfied THEN 'enqueued'
                     ELSE 'awaiting' END,
        awaiting_parents = greatest(j.awaiting_parents - v.satisfied, 0),
        run_at = CASE WHEN v.failed_parent IS NULL AND j.awaiting_parents <= v.satisfied
                      THEN now() ELSE j.run_at END,
        finished_at = CASE WHEN v.failed_parent IS NOT NULL THEN now() END,
        error = CASE WHEN v.failed_parent IS NOT NULL THEN jsonb_build_object(
                    'type', 'DependencyFailedError',
                    'message', format('job %%s, which this job depends on, ended %%s',
                                      v.failed_parent, v.failed_state),
                    'traceback', NULL)
                ELSE j.error END
    FROM verdict v
    WHERE j.id = v.job_id AND j.state = 'awaiting'
    RETURNING j.id, j.state, j.queue, j.attempt, j.error, j.dependants, j.batch_pending
),
history AS (
    INSERT INTO medley_job_history (job_id, from_state, to_state, reason, attempt, error)
    SELECT id, 'awaiting', state,
           CASE state WHEN 'cancelled' THEN 'dependency_failed' ELSE 'continued' END, attempt,
           CASE state WHEN 'cancelled' THEN error END
    FROM changed WHERE state <> 'awaiting'
),
notified AS (
    SELECT pg_notify('medley_job', q.queue)
    FROM (SELECT DISTINCT queue FROM changed WHERE state = 'enqueued') q
)
SELECT id, state, dependants, batch_pending FROM changed
WHERE state <> 'awaiting' AND (SELECT count(*) FROM notified) >= 0

-- name: continuation_lock_job
-- Deleting a job that is not final must first settle its dependants and batch as if it
-- had been cancelled; the lock keeps a worker from claiming it in between.
SELECT id, state, dependants, batch_pending FROM medley_job WHERE id = %(id)s FOR UPDATE
