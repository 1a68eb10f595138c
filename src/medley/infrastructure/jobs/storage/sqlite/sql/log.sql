-- Per-job log lines (migration 0002). Lines are numbered per job (`seq`), dropped ones
-- included, so a job's dropped count is min(seq) - 1. Times are REAL unix seconds.

-- name: job_log_append
-- SQLite has no arrays: the lines arrive as one JSON array of objects. `pos` is a line's
-- position after the job's last stored line. The INSERT reads its own table, so SQLite
-- computes every row (and each job's last number) before inserting any. Lines of jobs
-- deleted meanwhile are skipped by the join; a clash on (job_id, seq) can only come from a
-- zombie attempt writing beside its successor and is skipped too. Unlike PostgreSQL, the
-- later statements see the inserted lines, so the trim ranks what is now stored: lines
-- past `max_lines` or `max_bytes` (newest first) go, and so does every line older than a
-- gap (`pos` starting above 1: lines the worker dropped in memory, newer than those).
INSERT INTO medley_job_log (job_id, seq, attempt, at, level, logger, message)
SELECT e.job_id, coalesce(s.last_seq, 0) + e.pos, e.attempt, e.at, e.level, e.logger,
       e.message
FROM (
    SELECT value ->> '$.job_id' AS job_id, value ->> '$.pos' AS pos,
           value ->> '$.attempt' AS attempt, value ->> '$.at' AS at,
           value ->> '$.level' AS level, value ->> '$.logger' AS logger,
           value ->> '$.message' AS message
    FROM json_each(:entries)
) AS e
JOIN medley_job AS j ON j.id = e.job_id
LEFT JOIN (
    SELECT job_id, max(seq) AS last_seq FROM medley_job_log
    WHERE job_id IN (SELECT value ->> '$.job_id' FROM json_each(:entries))
    GROUP BY job_id
) AS s ON s.job_id = e.job_id
WHERE true
ORDER BY e.job_id, e.pos
ON CONFLICT DO NOTHING;
SELECT changes() AS stored;
DELETE FROM medley_job_log
WHERE (job_id, seq) IN (
    SELECT job_id, seq FROM (
        SELECT l.job_id, l.seq,
               row_number() OVER w AS n,
               sum(length(CAST(l.message AS BLOB))) OVER w AS total,
               g.gap AND l.seq <= max(l.seq) OVER (PARTITION BY l.job_id) - g.max_pos
                   AS before_gap
        FROM medley_job_log AS l
        JOIN (
            SELECT value ->> '$.job_id' AS job_id, max(value ->> '$.pos') AS max_pos,
                   min(value ->> '$.pos') > 1 AS gap
            FROM json_each(:entries) GROUP BY value ->> '$.job_id'
        ) AS g ON g.job_id = l.job_id
        WINDOW w AS (PARTITION BY l.job_id ORDER BY l.seq DESC ROWS UNBOUNDED PRECEDING)
    )
    WHERE n > :max_lines OR total > :max_bytes OR before_gap
)

-- name: job_log_list
SELECT seq, attempt, at, level, logger, message FROM medley_job_log
WHERE job_id = :job_id AND seq > :after_seq
ORDER BY seq
LIMIT :limit

-- name: job_log_dropped
SELECT coalesce(min(seq) - 1, 0) AS dropped FROM medley_job_log WHERE job_id = :job_id
