-- Per-job log lines (migration 0002). Lines are numbered per job (`seq`), dropped ones
-- included, so a job's dropped count is min(seq) - 1. Times are REAL unix seconds.

-- name: job_log_append
-- SQLite has no arrays: the lines arrive as one JSON array of objects. `pos` and `boff`
-- place a line after the job's last stored line, by number and by message bytes (lines
-- the worker dropped in memory included). The INSERT reads its own table, so SQLite
-- computes every row (and each job's last line) before inserting any. Lines of jobs
-- deleted meanwhile are skipped by the join; a clash on (job_id, seq) can only come from a
-- zombie attempt writing beside its successor and is skipped too. Unlike PostgreSQL, the
-- DELETE sees the new lines, so it cuts what is now stored: the kept lines are always the
-- newest run, so the first line to keep is one primary-key probe (within `max_lines` of
-- the newest and starting within `max_bytes` of its end) and the rest is a key range.
-- After a gap (`pos` starting above 1: lines dropped in memory, newer than any stored)
-- every line stored before the append goes.
INSERT INTO medley_job_log (job_id, seq, attempt, at, level, logger, message, offset_bytes)
SELECT e.job_id, coalesce(s.seq, 0) + e.pos, e.attempt, e.at, e.level, e.logger, e.message,
       coalesce(s.offset_bytes + length(CAST(s.message AS BLOB)), 0) + e.boff
FROM (
    SELECT value ->> '$.job_id' AS job_id, value ->> '$.pos' AS pos,
           value ->> '$.boff' AS boff, value ->> '$.attempt' AS attempt,
           value ->> '$.at' AS at, value ->> '$.level' AS level,
           value ->> '$.logger' AS logger, value ->> '$.message' AS message
    FROM json_each(:entries)
) AS e
JOIN medley_job AS j ON j.id = e.job_id
LEFT JOIN medley_job_log AS s ON s.job_id = e.job_id AND s.seq = (
    SELECT max(m.seq) FROM medley_job_log AS m WHERE m.job_id = e.job_id
)
WHERE true
ORDER BY e.job_id, e.pos
ON CONFLICT DO NOTHING;
SELECT changes() AS stored;
WITH g AS (
    SELECT value ->> '$.job_id' AS job_id, min(value ->> '$.pos') > 1 AS gap,
           max(value ->> '$.pos') AS top_pos
    FROM json_each(:entries) GROUP BY value ->> '$.job_id'
),
newest AS (
    SELECT g.job_id, g.gap, g.top_pos, l.seq AS last_seq,
           l.offset_bytes + length(CAST(l.message AS BLOB)) AS last_end
    FROM g JOIN medley_job_log AS l ON l.job_id = g.job_id AND l.seq = (
        SELECT max(m.seq) FROM medley_job_log AS m WHERE m.job_id = g.job_id
    )
),
cut AS (
    SELECT n.job_id, max(
        CASE WHEN n.gap THEN n.last_seq - n.top_pos + 1 ELSE 0 END,
        coalesce((
            SELECT k.seq FROM medley_job_log AS k
            WHERE k.job_id = n.job_id AND k.seq > n.last_seq - :max_lines
              AND k.offset_bytes >= n.last_end - :max_bytes
            ORDER BY k.seq LIMIT 1
        ), n.last_seq + 1)
    ) AS keep_from
    FROM newest AS n
)
DELETE FROM medley_job_log
WHERE (job_id, seq) IN (
    SELECT l.job_id, l.seq FROM cut AS c
    JOIN medley_job_log AS l ON l.job_id = c.job_id AND l.seq < c.keep_from
)

-- name: job_log_list
SELECT seq, attempt, at, level, logger, message FROM medley_job_log
WHERE job_id = :job_id AND seq > :after_seq
ORDER BY seq
LIMIT :limit

-- name: job_log_dropped
SELECT coalesce(min(seq) - 1, 0) AS dropped FROM medley_job_log WHERE job_id = :job_id
