-- The dashboard's read model. Counts come from medley_stat (maintained by triggers, see
-- migration 0004) plus the deltas not yet folded in, read in one snapshot: a few hundred
-- rows whatever the size of medley_job.

-- name: stat_count_by_state
SELECT queue, state, sum(count)::bigint AS count FROM (
    SELECT queue, state, count FROM medley_stat WHERE minute = 'epoch'
    UNION ALL
    SELECT queue, state, delta FROM medley_stat_delta WHERE minute = 'epoch'
) s
GROUP BY queue, state HAVING sum(count) <> 0
ORDER BY queue, state

-- name: stat_throughput
SELECT minute, state, sum(count)::bigint AS count FROM (
    SELECT minute, state, count FROM medley_stat WHERE minute >= %(since)s
    UNION ALL
    SELECT minute, state, delta FROM medley_stat_delta WHERE minute >= %(since)s
) s
GROUP BY minute, state ORDER BY minute, state

-- name: stat_queue_heads
-- Skip scans of medley_job_fetch_free_idx and medley_job_limited_idx (queue, priority,
-- run_at, id), the runnable jobs without and with a limit: each recursion jumps from one
-- (queue, priority) group to the next, and the first entry of each group is its earliest
-- run_at. If that is in the future, nothing in the group is due yet.
WITH RECURSIVE free AS (
    (SELECT queue, priority, run_at FROM medley_job
     WHERE state IN ('enqueued', 'scheduled') AND limit_name IS NULL
     ORDER BY queue, priority, run_at, id LIMIT 1)
    UNION ALL
    SELECT nxt.queue, nxt.priority, nxt.run_at FROM free h
    CROSS JOIN LATERAL (
        SELECT queue, priority, run_at FROM medley_job
        WHERE state IN ('enqueued', 'scheduled') AND limit_name IS NULL
          AND (queue, priority) > (h.queue, h.priority)
        ORDER BY queue, priority, run_at, id LIMIT 1
    ) nxt
), limited AS (
    (SELECT queue, priority, run_at FROM medley_job
     WHERE state IN ('enqueued', 'scheduled') AND limit_name IS NOT NULL
     ORDER BY queue, priority, run_at, id LIMIT 1)
    UNION ALL
    SELECT nxt.queue, nxt.priority, nxt.run_at FROM limited h
    CROSS JOIN LATERAL (
        SELECT queue, priority, run_at FROM medley_job
        WHERE state IN ('enqueued', 'scheduled') AND limit_name IS NOT NULL
          AND (queue, priority) > (h.queue, h.priority)
        ORDER BY queue, priority, run_at, id LIMIT 1
    ) nxt
), heads AS (
    SELECT * FROM free UNION ALL SELECT * FROM limited
)
SELECT queue, min(run_at) FILTER (WHERE run_at <= now()) AS oldest_due_at
FROM heads GROUP BY queue ORDER BY queue

-- name: job_search
-- Keyset pagination on id, newest first. The adapter replaces the anchor (the WHERE line)
-- with the filters in use, chosen from fixed fragments (values are always bound), so each
-- combination gets its own plan: by medley_job_state_idx, medley_job_name_idx,
-- medley_job_tags_idx or the primary key.
SELECT * FROM medley_job
WHERE 1 = 1
ORDER BY id DESC
LIMIT %(limit)s

-- name: job_search_backlog
-- job_search over the backlog for a job name: the inner query, fenced by OFFSET 0, is
-- planned for all its rows (from the backlog's small partial indexes), not for the first
-- few in id order. Walking the primary key for them is what the planner picks when it
-- guesses that a name's jobs are spread through the backlog as through the table, and that
-- walk reads the whole table for a name with no job waiting.
SELECT * FROM (SELECT * FROM medley_job WHERE 1 = 1 OFFSET 0) backlog
ORDER BY id DESC
LIMIT %(limit)s

-- name: job_search_parts
-- job_search over disjoint parts of the table, each a job_search of its own (the anchor
-- below is replaced by them, joined with UNION ALL), merged newest first. The backlog has
-- no entries in medley_job_state_idx and medley_job_name_idx (migration 0010): a listing
-- that may include it asks for the backlog by its own partial indexes and for the rest by
-- those two, where one query over both would walk the primary key.
SELECT * FROM (PARTS) j
ORDER BY id DESC
LIMIT %(limit)s
