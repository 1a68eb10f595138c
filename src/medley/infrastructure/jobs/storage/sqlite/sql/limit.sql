-- name: limit_fetch_grantable
-- The runnable jobs of one queue that may take a slot of their limit now: among the
-- oldest runnable limited jobs (a window of 5 x limit + 50, as PostgreSQL's `eligible`),
-- per (limit, key), the first `room` of them in fetch order, so that a flood of one key
-- neither blocks the queue nor crowds out other keys within the window. Runs in
-- job_fetch_available's write transaction (BEGIN IMMEDIATE), so nothing changes between
-- this and the claim. Served by medley_job_limited_idx: a queue without limited jobs
-- costs one empty probe.
SELECT id FROM (
    SELECT c.id, c.priority, c.run_at, l.max_running - coalesce(u.running, 0) AS room,
           row_number() OVER (PARTITION BY c.limit_name, c.limit_key
                              ORDER BY c.priority, c.run_at, c.id) AS rn
    FROM (
        SELECT j.id, j.priority, j.run_at, j.limit_name, j.limit_key FROM medley_job AS j
        WHERE j.queue = :queue AND j.state IN ('enqueued', 'scheduled') AND j.run_at <= :now
          AND j.limit_name IS NOT NULL
        ORDER BY j.priority, j.run_at, j.id
        LIMIT :limit * 5 + 50
    ) AS c
    JOIN medley_limit AS l ON l.name = c.limit_name
    LEFT JOIN medley_limit_usage AS u ON u.name = c.limit_name AND u.key = c.limit_key
)
WHERE rn <= room
ORDER BY priority, run_at, id
LIMIT :limit

-- name: limit_take
-- One slot for a claimed job of a defined limit (same transaction as the claim).
INSERT INTO medley_limit_usage (name, key, running)
SELECT :name, :key, :n WHERE EXISTS (SELECT 1 FROM medley_limit WHERE name = :name)
ON CONFLICT (name, key) DO UPDATE SET running = running + excluded.running

-- name: limit_release
-- Slots given back by jobs leaving `processing` (outcome written, rescued), in the
-- transaction that writes it.
UPDATE medley_limit_usage SET running = max(0, running - :n)
WHERE name = :name AND key = :key

-- name: limit_upsert
-- `runtime` definitions (CLI, service API) always win; a `code` definition (synced by a
-- worker at start) replaces only another `code` one, so a restart never undoes
-- `medley limits set`.
INSERT INTO medley_limit (name, max_running, source, updated_at)
VALUES (:name, :max_running, :source, :now)
ON CONFLICT (name) DO UPDATE
SET max_running = excluded.max_running, source = excluded.source, updated_at = excluded.updated_at
WHERE excluded.source = 'runtime' OR medley_limit.source = 'code'
RETURNING name

-- name: limit_list
SELECT l.name, l.max_running, l.source, l.updated_at,
       coalesce((SELECT sum(u.running) FROM medley_limit_usage AS u WHERE u.name = l.name), 0)
           AS running,
       (SELECT count(*) FROM medley_limit_usage AS u
        WHERE u.name = l.name AND u.running > 0) AS busy_keys
FROM medley_limit AS l ORDER BY l.name

-- name: limit_delete
DELETE FROM medley_limit WHERE name = :name RETURNING name

-- name: limit_usage
SELECT name, key, running FROM medley_limit_usage WHERE name = :name AND running > 0
ORDER BY key
