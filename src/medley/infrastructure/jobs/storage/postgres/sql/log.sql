-- Per-job log lines (migration 0002). Lines are numbered per job (`seq`), dropped ones
-- included, so a job's dropped count is min(seq) - 1.

-- name: job_log_append
-- Lines of many jobs in one statement, as parallel arrays. `pos` and `boff` place a line
-- after the job's last stored line: by number, and by the message bytes in between (lines
-- the worker dropped in memory included). The kept lines are always the newest run, so
-- the bounds are two cut-offs: a line numbered past `max_lines` back from the newest, or
-- starting past `max_bytes` back from the newest's end, goes. Incoming lines are filtered
-- by them; stored lines are cut with one primary-key probe (the first line to keep) and
-- one key-range delete, so a flush reads only what it deletes, however many lines a job
-- keeps. A first `pos` above 1 means the worker dropped lines since its last append: those
-- were newer than every stored line, so all stored lines of that job go. Lines of jobs
-- deleted meanwhile are skipped by the join; a clash on (job_id, seq) can only come from a
-- zombie attempt writing beside its successor and is skipped too.
WITH input AS (
    SELECT * FROM unnest(
        %(job_id)s::bigint[], %(attempt)s::int[], %(at)s::timestamptz[], %(level)s::text[],
        %(logger)s::text[], %(message)s::text[], %(pos)s::int[], %(boff)s::bigint[]
    ) AS i(job_id, attempt, at, level, logger, message, pos, boff)
),
jobs AS (
    SELECT j.id AS job_id, min(i.pos) > 1 AS gap,
           coalesce(l.seq, 0) AS last_seq,
           coalesce(l.offset_bytes + octet_length(l.message), 0) AS last_end,
           max(i.pos) AS top_pos, max(i.boff + octet_length(i.message)) AS top_end
    FROM input i
    JOIN medley_job j ON j.id = i.job_id
    LEFT JOIN LATERAL (
        SELECT seq, offset_bytes, message FROM medley_job_log
        WHERE job_id = j.id ORDER BY seq DESC LIMIT 1
    ) l ON true
    GROUP BY j.id, l.seq, l.offset_bytes, l.message
),
bounds AS (
    SELECT job_id, gap, last_seq, last_end,
           last_seq + top_pos - %(max_lines)s AS drop_seq,
           last_end + top_end - %(max_bytes)s AS drop_bytes
    FROM jobs
),
inserted AS (
    INSERT INTO medley_job_log (job_id, seq, attempt, at, level, logger, message, offset_bytes)
    SELECT i.job_id, b.last_seq + i.pos, i.attempt, i.at, i.level, i.logger, i.message,
           b.last_end + i.boff
    FROM input i JOIN bounds b USING (job_id)
    WHERE b.last_seq + i.pos > b.drop_seq AND b.last_end + i.boff >= b.drop_bytes
    ORDER BY i.job_id, i.pos
    ON CONFLICT (job_id, seq) DO NOTHING
    RETURNING job_id
),
cut AS (
    SELECT b.job_id,
           CASE WHEN b.gap THEN b.last_seq + 1 ELSE coalesce(
               (SELECT k.seq FROM medley_job_log k
                WHERE k.job_id = b.job_id AND k.seq > b.drop_seq
                  AND k.offset_bytes >= b.drop_bytes
                ORDER BY k.seq LIMIT 1),
               b.last_seq + 1) END AS keep_from
    FROM bounds b
),
trimmed AS (
    DELETE FROM medley_job_log l USING cut c
    WHERE l.job_id = c.job_id AND l.seq < c.keep_from
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
