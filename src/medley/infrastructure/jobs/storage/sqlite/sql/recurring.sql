-- Recurring jobs, SQLite dialect: same meaning as PostgreSQL's recurring.sql. Times are
-- REAL unix seconds. Ticks are whole seconds, exact as REAL, but the compare-and-set
-- still allows a millisecond of rounding rather than trusting float equality.

-- name: recurring_upsert
-- RETURNING cannot join the last job's state: the row is read back by a second statement.
INSERT INTO medley_recurring AS r (name, job, args, kwargs, queue, priority, max_attempts,
                                   timeout_seconds, tags, cron, timezone, misfire,
                                   next_run_at, created_at, updated_at)
VALUES (:name, :job, :args, :kwargs, :queue, :priority, :max_attempts, :timeout_seconds,
        :tags, :cron, :timezone, :misfire, :next_run_at, :now, :now)
ON CONFLICT (name) DO UPDATE
SET job = excluded.job, args = excluded.args, kwargs = excluded.kwargs,
    queue = excluded.queue, priority = excluded.priority, max_attempts = excluded.max_attempts,
    timeout_seconds = excluded.timeout_seconds, tags = excluded.tags, cron = excluded.cron,
    timezone = excluded.timezone, misfire = excluded.misfire,
    next_run_at = CASE WHEN r.cron = excluded.cron AND r.timezone = excluded.timezone
                       THEN r.next_run_at ELSE excluded.next_run_at END,
    updated_at = excluded.updated_at;
SELECT r.*, j.state AS last_job_state
FROM medley_recurring AS r LEFT JOIN medley_job AS j ON j.id = r.last_job_id
WHERE r.name = :name

-- name: recurring_get
SELECT r.*, j.state AS last_job_state
FROM medley_recurring AS r LEFT JOIN medley_job AS j ON j.id = r.last_job_id
WHERE r.name = :name

-- name: recurring_list
SELECT r.*, j.state AS last_job_state
FROM medley_recurring AS r LEFT JOIN medley_job AS j ON j.id = r.last_job_id
ORDER BY r.name

-- name: recurring_list_due
-- Served by medley_recurring_due_idx.
SELECT r.*, NULL AS last_job_state FROM medley_recurring AS r
WHERE NOT r.paused AND r.next_run_at <= :now
ORDER BY r.next_run_at
LIMIT :limit

-- name: recurring_next_due
-- One probe of medley_recurring_due_idx.
SELECT min(next_run_at) AS next_run_at FROM medley_recurring WHERE NOT paused

-- name: recurring_fire
-- The compare-and-set (see PostgreSQL's); the write lock serialises the racers.
UPDATE medley_recurring
SET next_run_at = coalesce(:next_run_at, next_run_at), updated_at = :now
WHERE name = :name
  AND (:expected IS NULL OR (abs(next_run_at - :expected) < 0.001 AND NOT paused))
RETURNING name

-- name: recurring_set_last
UPDATE medley_recurring SET last_run_at = :last_run_at, last_job_id = :last_job_id
WHERE name = :name

-- name: recurring_set_paused
UPDATE medley_recurring
SET paused = :paused, next_run_at = coalesce(:next_run_at, next_run_at), updated_at = :now
WHERE name = :name;
SELECT r.*, j.state AS last_job_state
FROM medley_recurring AS r LEFT JOIN medley_job AS j ON j.id = r.last_job_id
WHERE r.name = :name

-- name: recurring_delete
DELETE FROM medley_recurring WHERE name = :name RETURNING name
