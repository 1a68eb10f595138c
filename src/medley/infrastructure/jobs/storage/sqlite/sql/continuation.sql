-- Continuations, SQLite dialect: same meaning as PostgreSQL's continuation.sql. There are
-- no row locks to reason about: every write holds SQLite's single write lock (BEGIN
-- IMMEDIATE), so an enqueue and a completion touching the same parent simply run one
-- after the other. No arrays either: inputs arrive as JSON arrays (json_each).

-- name: continuation_lock_parents
-- :parents is a JSON array of {id, n}. Marks each parent as having dependants and returns
-- its state (nobody else can change it until this transaction ends).
UPDATE medley_job AS j SET dependants = j.dependants + c.n
FROM (SELECT value ->> '$.id' AS id, value ->> '$.n' AS n FROM json_each(:parents)) AS c
WHERE j.id = c.id
RETURNING id, state

-- name: continuation_attach
-- :children is a JSON array of {id, depends_on: [ids], continue_on} of just-inserted jobs.
UPDATE medley_job AS j
SET depends_on = c.depends_on, continue_on = c.continue_on,
    awaiting_parents = json_array_length(c.depends_on)
FROM (
    SELECT value ->> '$.id' AS id, value -> '$.depends_on' AS depends_on,
           value ->> '$.continue_on' AS continue_on
    FROM json_each(:children)
) AS c
WHERE j.id = c.id;
INSERT OR IGNORE INTO medley_job_dependency (parent_id, job_id, continue_on)
SELECT p.value, c.value ->> '$.id', c.value ->> '$.continue_on'
FROM json_each(:children) AS c, json_each(c.value -> '$.depends_on') AS p

-- name: continuation_resolve
-- :finished is a JSON array of {id, state} of jobs that just became final. RETURNING shows
-- only the row after the change and no CTE may write, so: history first (from the verdict,
-- while the dependants are still awaiting), then the dependants, then the edges go. The
-- verdict is recomputed by each statement from the same edges, under the same lock.
WITH f AS (SELECT value ->> '$.id' AS id, value ->> '$.state' AS state FROM json_each(:finished)),
verdict AS (
    SELECT d.job_id,
           sum(f.state = 'succeeded' OR d.continue_on = 'any') AS satisfied,
           min(CASE WHEN f.state <> 'succeeded' AND d.continue_on = 'success'
                    THEN d.parent_id END) AS failed_parent
    FROM medley_job_dependency AS d JOIN f ON d.parent_id = f.id
    GROUP BY d.job_id
)
INSERT INTO medley_job_history (job_id, at, from_state, to_state, reason, attempt, error)
SELECT j.id, :now, 'awaiting',
       CASE WHEN v.failed_parent IS NOT NULL THEN 'cancelled' ELSE 'enqueued' END,
       CASE WHEN v.failed_parent IS NOT NULL THEN 'dependency_failed' ELSE 'continued' END,
       j.attempt,
       CASE WHEN v.failed_parent IS NOT NULL THEN json_object(
           'type', 'DependencyFailedError',
           'message', printf('job %d, which this job depends on, ended %s', v.failed_parent,
                             (SELECT f.state FROM f WHERE f.id = v.failed_parent)),
           'traceback', NULL) END
FROM verdict AS v JOIN medley_job AS j ON j.id = v.job_id
WHERE j.state = 'awaiting' AND (v.failed_parent IS NOT NULL OR j.awaiting_parents <= v.satisfied);
WITH f AS (SELECT value ->> '$.id' AS id, value ->> '$.state' AS state FROM json_each(:finished)),
verdict AS (
    SELECT d.job_id,
           sum(f.state = 'succeeded' OR d.continue_on = 'any') AS satisfied,
           min(CASE WHEN f.state <> 'succeeded' AND d.continue_on = 'success'
                    THEN d.parent_id END) AS failed_parent
    FROM medley_job_dependency AS d JOIN f ON d.parent_id = f.id
    GROUP BY d.job_id
)
UPDATE medley_job AS j
SET state = CASE WHEN v.failed_parent IS NOT NULL THEN 'cancelled'
                 WHEN j.awaiting_parents <= v.satisfied THEN 'enqueued'
                 ELSE 'awaiting' END,
    awaiting_parents = max(j.awaiting_parents - v.satisfied, 0),
    run_at = CASE WHEN v.failed_parent IS NULL AND j.awaiting_parents <= v.satisfied
                  THEN :now ELSE j.run_at END,
    finished_at = CASE WHEN v.failed_parent IS NOT NULL THEN :now END,
    error = CASE WHEN v.failed_parent IS NOT NULL THEN json_object(
                'type', 'DependencyFailedError',
                'message', printf('job %d, which this job depends on, ended %s',
                                  v.failed_parent,
                                  (SELECT f.state FROM f WHERE f.id = v.failed_parent)),
                'traceback', NULL)
            ELSE j.error END
FROM verdict AS v
WHERE j.id = v.job_id AND j.state = 'awaiting'
RETURNING id, state, dependants, batch_pending;
DELETE FROM medley_job_dependency
WHERE parent_id IN (SELECT value ->> '$.id' FROM json_each(:finished))

-- name: continuation_lock_job
-- No FOR UPDATE in SQLite: the caller already holds the write lock.
SELECT id, state, dependants, batch_pending FROM medley_job WHERE id = :id
