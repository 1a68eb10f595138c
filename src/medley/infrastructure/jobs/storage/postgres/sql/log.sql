-- Per-job log lines (migration 0002). Lines are numbered per job (`seq`), dropped ones
-- included, so a job's dropped count is min(seq) - 1.

-- name: job_log_append
-- Lines of many jobs in one statement, as parallel arrays. `pos` is a line's position
-- after the job's last stored line; a first `pos` above 1 means the worker dropped lines
-- in memory since its last append (a flood between two flushes): those were newer than
-- every stored line, so all stored lines of that job go too. Otherwise the stored and the
-- incoming lines are ranked together, newest first (a statement cannot see its own
-- inserts): incoming lines within `max_lines` and `max_bytes` are inserted, stored lines
-- past them are deleted, so what stays is always the newest run of lines. Lines of jobs
-- deleted meanwhile are skipped by the join; a clash on (job_id, seq) can only come from
-- a zombie attempt writing beside its successor and is skipped too.
WITH input AS (
    SELECT * FROM unnest(
        %(job_id)s::bigint[], %(attempt)s::int[], %(at)s::timestamptz[], %(level)s::text[],
        %(logger)s::text[], %(message)s::text[], %(pos)s::int[]
    ) AS i(job_id, attempt, at, level, logger, message, pos)
),
jobs AS (
    SELECT j.id AS job_id, min(i.pos) > 1 AS gap,
           coalesce((SELECT max(l.seq) FROM medley_job_log l WHERE l.job_id = j.id), 0)
               AS last_seq
    FROM input i JOIN medley_job j ON j.id = i.job_id
    GROUP BY j.id
),
ranked AS (
    SELECT c.*,
           row_number() OVER w AS n,
           sum(octet_length(c.message)) OVER w AS total
    FROM (
        SELECT l.job_id, l.seq, l.attempt, l.at, l.level, l.logger, l.message,
               false AS fresh
        FROM medley_job_log l JOIN jobs b USING (job_id) WHERE NOT b.gap
        UNION ALL
        SELECT i.job_id, b.last_seq + i.pos, i.attempt, i.at, i.level, i.logger, i.message,
               true
        FROM input i JOIN jobs b USING (job_id)
    ) c
    WINDOW w AS (PARTITION BY c.job_id ORDER BY c.seq DESC ROWS UNBOUNDED PRECEDING)
),
inserted AS (
    INSERT INTO medley_job_log (job_id, seq, attempt, at, level, logger, message)
    SELECT job_id, seq, attempt, at, level, logger, message FROM ranked
    WHERE fresh AND n <= %(max_lines)s AND total <= %(max_bytes)s
    ORDER BY job_id, seq
    ON CONFLICT (job_id, seq) DO NOTHING
    RETURNING job_id
),
trimmed AS (
    DELETE FROM medley_job_log l USING jobs b
    WHERE l.job_id = b.job_id
      AND (b.gap OR (l.job_id, l.seq) IN (
          SELECT job_id, seq FROM ranked
          WHERE NOT fresh AND (n > %(max_lines)s OR total > %(max_bytes)s)))
)
SELECT count(*) AS stored FROM inserted

-- name: job_log_list
-- Served by the primary key (job_id, seq).
SELECT seq, attempt, at, level, logger, message FROM medley_job_log
WHERE job_id = %(job_id)s AND seq > %(after_seq)s
ORDER BY seq
LIMIT %(limit)s

-- name: job_log_dropped
-- One probe of the primary key: the oldest kept line's number tells how many went before.
SELECT coalesce(min(seq) - 1, 0) AS dropped FROM medley_job_log WHERE job_id = %(job_id)s
