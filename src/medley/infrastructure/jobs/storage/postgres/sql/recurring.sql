-- Recurring jobs. The cron arithmetic happens in Python (the leader's RecurringScheduler);
-- the database keeps the definition and the next tick, and decides races: a tick is fired
-- by the one transaction whose compare-and-set on next_run_at succeeds.

-- name: recurring_upsert
-- Redefining keeps the schedule unless the cron or time zone changed, and keeps a pause:
-- every worker upserts the jobs declared in code each time it starts.
INSERT INTO medley_recurring AS r (name, job, args, kwargs, queue, priority, max_attempts,
                                   timeout_seconds, tags, cron, timezone, misfire, next_run_at)
VALUES (%(name)s, %(job)s, %(args)s::jsonb, %(kwargs)s::jsonb, %(queue)s, %(priority)s,
        %(max_attempts)s, %(timeout_seconds)s::float8, %(tags)s::jsonb, %(cron)s, %(timezone)s,
        %(misfire)s, %(next_run_at)s)
ON CONFLICT (name) DO UPDATE
SET job = excluded.job, args = excluded.args, kwargs = excluded.kwargs,
    queue = excluded.queue, priority = excluded.priority, max_attempts = excluded.max_attempts,
    timeout_seconds = excluded.timeout_seconds, tags = excluded.tags, cron = excluded.cron,
    timezone = excluded.timezone, misfire = excluded.misfire,
    next_run_at = CASE WHEN r.cron = excluded.cron AND r.timezone = excluded.timezone
                       THEN r.next_run_at ELSE excluded.next_run_at END,
    updated_at = now()
RETURNING r.*, (SELECT state FROM medley_job WHERE id = r.last_job_id) AS last_job_state

-- name: recurring_get
SELECT r.*, j.state AS last_job_state
FROM medley_recurring r LEFT JOIN medley_job j ON j.id = r.last_job_id
WHERE r.name = %(name)s

-- name: recurring_list
SELECT r.*, j.state AS last_job_state
FROM medley_recurring r LEFT JOIN medley_job j ON j.id = r.last_job_id
ORDER BY r.name

-- name: recurring_list_due
-- Served by medley_recurring_due_idx.
SELECT r.*, NULL::text AS last_job_state FROM medley_recurring r
WHERE NOT r.paused AND r.next_run_at <= %(now)s
ORDER BY r.next_run_at
LIMIT %(limit)s

-- name: recurring_next_due
-- One probe of medley_recurring_due_idx.
SELECT min(next_run_at) AS next_run_at FROM medley_recurring WHERE NOT paused

-- name: recurring_fire
-- The compare-and-set that makes a tick fire once: with :expected, only the transaction
-- that still finds the tick it planned from moves it (a second leader waits on the row
-- lock, then re-checks against the moved value and matches nothing). Without :expected (a
-- manual trigger) the schedule is left alone; the row lock still orders the last run.
UPDATE medley_recurring
SET next_run_at = coalesce(%(next_run_at)s::timestamptz, next_run_at), updated_at = now()
WHERE name = %(name)s
  AND (%(expected)s::timestamptz IS NULL
       OR (next_run_at = %(expected)s::timestamptz AND NOT paused))
RETURNING name

-- name: recurring_set_last
UPDATE medley_recurring SET last_run_at = %(last_run_at)s, last_job_id = %(last_job_id)s
WHERE name = %(name)s

-- name: recurring_set_paused
UPDATE medley_recurring r
SET paused = %(paused)s, next_run_at = coalesce(%(next_run_at)s::timestamptz, r.next_run_at),
    updated_at = now()
WHERE r.name = %(name)s
RETURNING r.*, (SELECT state FROM medley_job WHERE id = r.last_job_id) AS last_job_state

-- name: recurring_delete
DELETE FROM medley_recurring WHERE name = %(name)s RETURNING name
