-- The dashboard's read model. Counts come from medley_stat, maintained by the triggers of
-- migration 0004 (row-level: SQLite has a single writer, so no delta table is needed).

-- name: stat_count_by_state
SELECT queue, state, count FROM medley_stat WHERE minute = 0 AND count <> 0
ORDER BY queue, state

-- name: stat_throughput
SELECT minute, state, count FROM medley_stat WHERE minute >= :since ORDER BY minute, state

-- name: stat_queue_heads
-- SQLite has no LATERAL: the adapter runs this step of the skip scan over
-- medley_job_fetch_idx in a loop, one (queue, priority) group after the next; the first
-- entry of a group is its earliest run_at. The first step passes the lowest key there is.
SELECT queue, priority, run_at FROM medley_job INDEXED BY medley_job_fetch_idx
WHERE state IN ('enqueued', 'scheduled') AND (queue, priority) > (:queue, :priority)
ORDER BY queue, priority, run_at, id
LIMIT 1

-- name: job_search
-- The adapter replaces the anchor (the WHERE line) with the filters in use (fixed fragments, bound
-- values). A tag has no index here: the scan walks ids downwards and stops at the limit.
SELECT * FROM medley_job
WHERE 1 = 1
ORDER BY id DESC
LIMIT :limit
