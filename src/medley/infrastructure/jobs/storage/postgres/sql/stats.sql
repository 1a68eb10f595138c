-- `medley stats`: performance per job over a window, from the stored jobs themselves.

-- name: stat_job_performance
-- Jobs that finished since :since, per job name: served by medley_job_finished_idx
-- (state, finished_at), one range per final state. Run time is the last attempt's
-- (started_at is reset at each claim), over succeeded jobs; queue wait runs from when the
-- job became runnable (enqueued, or due) to that attempt's start. Percentiles are nearest
-- rank (percentile_disc), which SQLite computes the same way with window functions.
SELECT job,
       count(*) FILTER (WHERE state = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE state = 'failed') AS failed,
       count(*) FILTER (WHERE state = 'cancelled') AS cancelled,
       coalesce(sum(attempt - 1) FILTER (WHERE attempt > 1), 0) AS retries,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY run) AS run_p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY run) AS run_p95,
       percentile_disc(0.99) WITHIN GROUP (ORDER BY run) AS run_p99,
       max(run) AS run_max,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY wait) AS wait_p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY wait) AS wait_p95
FROM (
    SELECT job, state, attempt,
           CASE WHEN state = 'succeeded'
                THEN extract(epoch FROM finished_at - started_at)::float8 END AS run,
           extract(epoch FROM started_at - run_at)::float8 AS wait
    FROM medley_job
    WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at >= %(since)s
      AND (%(job)s::text IS NULL OR job = %(job)s::text)
      AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
) f
GROUP BY job
ORDER BY job
