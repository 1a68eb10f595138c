-- `medley stats`: performance per job over a window, from the stored jobs themselves.

-- name: stat_job_performance
-- Same meaning as PostgreSQL's. SQLite has no percentile_disc: the nearest-rank
-- percentile p of n values is the smallest value whose row number is >= p * n, found with
-- row_number() over each job's sorted values. Served by medley_job_finished_idx.
WITH f AS (
    SELECT job, state, attempt,
           CASE WHEN state = 'succeeded' THEN finished_at - started_at END AS run,
           started_at - run_at AS wait
    FROM medley_job
    WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at >= :since
      AND (:job IS NULL OR job = :job)
      AND (:queue IS NULL OR queue = :queue)
),
runs AS (
    SELECT job, run AS v, row_number() OVER (PARTITION BY job ORDER BY run) AS n,
           count(*) OVER (PARTITION BY job) AS total
    FROM f WHERE run IS NOT NULL
),
waits AS (
    SELECT job, wait AS v, row_number() OVER (PARTITION BY job ORDER BY wait) AS n,
           count(*) OVER (PARTITION BY job) AS total
    FROM f WHERE wait IS NOT NULL
),
run_pct AS (
    SELECT job, min(CASE WHEN n >= 0.5 * total THEN v END) AS p50,
           min(CASE WHEN n >= 0.95 * total THEN v END) AS p95,
           min(CASE WHEN n >= 0.99 * total THEN v END) AS p99, max(v) AS top
    FROM runs GROUP BY job
),
wait_pct AS (
    SELECT job, min(CASE WHEN n >= 0.5 * total THEN v END) AS p50,
           min(CASE WHEN n >= 0.95 * total THEN v END) AS p95
    FROM waits GROUP BY job
),
counts AS (
    SELECT job, sum(state = 'succeeded') AS succeeded, sum(state = 'failed') AS failed,
           sum(state = 'cancelled') AS cancelled,
           sum(CASE WHEN attempt > 1 THEN attempt - 1 ELSE 0 END) AS retries
    FROM f GROUP BY job
)
SELECT c.job, c.succeeded, c.failed, c.cancelled, c.retries,
       r.p50 AS run_p50, r.p95 AS run_p95, r.p99 AS run_p99, r.top AS run_max,
       w.p50 AS wait_p50, w.p95 AS wait_p95
FROM counts AS c
LEFT JOIN run_pct AS r ON r.job = c.job
LEFT JOIN wait_pct AS w ON w.job = c.job
ORDER BY c.job
