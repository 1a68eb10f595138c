-- name: limit_fetch_grantable
-- The runnable jobs of one queue that may take a slot of their limit now: among the
-- oldest runnable limited jobs (a window of 5 x limit + 50, as PostgreSQL's `eligible`),
-- per (limit, key), the first ones in fetch order that its cap, its start rate and its
-- token budget have room for (none while the limit is blocked), so that a flood of one
-- key neither blocks the queue nor crowds out other keys within the window. The buckets
-- are PostgreSQL's (see medley_limit_grant there), times in unix seconds. Runs in
-- job_fetch_available's write transaction (BEGIN IMMEDIATE), so nothing changes between
-- this and the claim: this is exact here, where PostgreSQL needs a locking function.
-- Served by medley_job_limited_idx: a queue without limited jobs costs one empty probe.
SELECT id, tokens FROM (
    SELECT c.id, c.priority, c.run_at, c.tokens,
           coalesce(l.max_running - coalesce(u.running, 0), :limit) AS room,
           CASE WHEN l.rate IS NULL THEN :limit
                ELSE CAST((:now - max(coalesce(u.starts_tat, :now), :now) + l.period_seconds)
                          * l.rate / l.period_seconds + 1e-9 AS INTEGER)
           END AS rate_room,
           CASE WHEN l.tokens IS NOT NULL
                THEN (:now - max(coalesce(u.tokens_tat, :now), :now) + l.period_seconds)
                     * l.tokens / l.period_seconds
           END AS token_room,
           coalesce(u.tokens_tat, :now) <= :now AS token_full,
           coalesce(l.blocked_until > :now, 0) AS blocked,
           row_number() OVER w AS rn,
           sum(c.tokens) OVER w AS cum_tokens
    FROM (
        SELECT j.id, j.priority, j.run_at, j.limit_name, j.limit_key,
               coalesce(json_extract(j.meta, '$.limit_tokens'), 0) AS tokens
        FROM medley_job AS j
        WHERE j.queue = :queue AND j.state IN ('enqueued', 'scheduled') AND j.run_at <= :now
          AND j.limit_name IS NOT NULL
        ORDER BY j.priority, j.run_at, j.id
        LIMIT :limit * 5 + 50
    ) AS c
    JOIN medley_limit AS l ON l.name = c.limit_name
    LEFT JOIN medley_limit_usage AS u ON u.name = c.limit_name AND u.key = c.limit_key
    WINDOW w AS (PARTITION BY c.limit_name, c.limit_key ORDER BY c.priority, c.run_at, c.id)
)
WHERE rn <= room AND rn <= rate_room AND NOT blocked
  AND (token_room IS NULL OR cum_tokens <= token_room + 1e-6 OR (rn = 1 AND token_full))
ORDER BY priority, run_at, id
LIMIT :limit

-- name: limit_take
-- The slots and bucket capacity of `n` claimed jobs of a limit holding `tokens`
-- estimated tokens (same transaction as the claim). `excluded.*_tat - :now` is what the
-- claim spends, added to the bucket where it stands now. A limit nobody defined has no
-- buckets but its slots are counted all the same: every outcome gives one back, so a
-- limit defined again later sees what runs.
INSERT INTO medley_limit_usage (name, key, running, starts_tat, tokens_tat)
SELECT :name, :key, :n,
       CASE WHEN l.rate IS NOT NULL THEN :now + :n * l.period_seconds / l.rate END,
       CASE WHEN l.tokens IS NOT NULL THEN :now + :tokens * l.period_seconds / l.tokens END
FROM (SELECT 1) LEFT JOIN medley_limit AS l ON l.name = :name
WHERE true
ON CONFLICT (name, key) DO UPDATE
SET running = running + excluded.running,
    starts_tat = CASE WHEN excluded.starts_tat IS NULL THEN starts_tat
        ELSE max(coalesce(starts_tat, :now), :now) + (excluded.starts_tat - :now) END,
    tokens_tat = CASE WHEN excluded.tokens_tat IS NULL THEN tokens_tat
        ELSE max(coalesce(tokens_tat, :now), :now) + (excluded.tokens_tat - :now) END

-- name: limit_release
-- Slots given back by jobs leaving `processing` (outcome written, rescued), in the
-- transaction that writes it.
UPDATE medley_limit_usage SET running = max(0, running - :n)
WHERE name = :name AND key = :key

-- name: limit_upsert
-- `runtime` definitions (CLI, service API) always win; a `code` definition (synced by a
-- worker at start) replaces only another `code` one, so a restart never undoes
-- `medley limits set`. What the buckets have used carries over as a count under the new
-- rate, budget and period (capped at a full bucket), as on PostgreSQL; the rescale runs
-- first, against the definition being replaced, and only where the upsert will apply.
UPDATE medley_limit_usage
SET starts_tat = CASE
        WHEN l.rate IS NULL OR :rate IS NULL OR medley_limit_usage.starts_tat IS NULL
             OR medley_limit_usage.starts_tat <= :now THEN NULL
        ELSE :now + min((medley_limit_usage.starts_tat - :now) * l.rate / l.period_seconds,
                        :rate) * :period_seconds / :rate END,
    tokens_tat = CASE
        WHEN l.tokens IS NULL OR :tokens IS NULL OR medley_limit_usage.tokens_tat IS NULL
             OR medley_limit_usage.tokens_tat <= :now THEN NULL
        ELSE :now + min((medley_limit_usage.tokens_tat - :now) * l.tokens / l.period_seconds,
                        :tokens) * :period_seconds / :tokens END
FROM medley_limit l
WHERE l.name = :name AND medley_limit_usage.name = :name
  AND (:source = 'runtime' OR l.source = 'code');
INSERT INTO medley_limit (name, max_running, rate, tokens, period_seconds, source, updated_at)
VALUES (:name, :max_running, :rate, :tokens, :period_seconds, :source, :now)
ON CONFLICT (name) DO UPDATE
SET max_running = excluded.max_running, rate = excluded.rate, tokens = excluded.tokens,
    period_seconds = excluded.period_seconds, source = excluded.source,
    updated_at = excluded.updated_at
WHERE excluded.source = 'runtime' OR medley_limit.source = 'code'
RETURNING name

-- name: limit_list
SELECT l.name, l.max_running, l.rate, l.tokens, l.period_seconds, l.blocked_until,
       l.source, l.updated_at,
       coalesce(sum(u.running), 0) AS running,
       count(CASE WHEN u.running > 0 THEN 1 END) AS busy_keys,
       coalesce(sum(max(0, u.starts_tat - :now) * l.rate / l.period_seconds), 0) AS starts_used,
       coalesce(sum(max(0, u.tokens_tat - :now) * l.tokens / l.period_seconds), 0)
           AS tokens_used
FROM medley_limit AS l LEFT JOIN medley_limit_usage AS u ON u.name = l.name
GROUP BY l.name ORDER BY l.name

-- name: limit_delete
DELETE FROM medley_limit WHERE name = :name RETURNING name

-- name: limit_usage
SELECT name, key, running FROM medley_limit_usage WHERE name = :name AND running > 0
ORDER BY key

-- name: limit_report
-- What one finished attempt tells its limit (PostgreSQL's limit_report, one job at a
-- time, in the transaction that writes the outcome): :tokens (NULL: none reported)
-- replaces the job's reservation in its key's bucket; :blocked_until (NULL: none) blocks
-- every start of its limit until then, never shortening a longer block.
UPDATE medley_limit_usage AS u
SET tokens_tat = max(:now, max(coalesce(u.tokens_tat, :now), :now)
                           + (:tokens - d.reserved) * l.period_seconds / l.tokens)
FROM (SELECT limit_name, limit_key, coalesce(json_extract(meta, '$.limit_tokens'), 0) AS reserved
      FROM medley_job WHERE id = :id) AS d, medley_limit AS l
WHERE :tokens IS NOT NULL AND u.name = d.limit_name AND u.key = d.limit_key
  AND l.name = u.name AND l.tokens IS NOT NULL;
UPDATE medley_limit SET blocked_until = max(coalesce(blocked_until, :blocked_until), :blocked_until)
WHERE :blocked_until IS NOT NULL
  AND name = (SELECT limit_name FROM medley_job WHERE id = :id);

-- name: limit_wait
-- PostgreSQL's limit_wait (see there), in unix seconds; run in the fetch's transaction
-- after a claim that left jobs behind.
SELECT min(wait) AS wait FROM (
    SELECT CASE WHEN l.blocked_until > :now THEN l.blocked_until - :now
                WHEN l.rate IS NOT NULL
                THEN coalesce(u.starts_tat, :now) - :now - l.period_seconds
                     + l.period_seconds / l.rate
           END AS wait
    FROM (SELECT DISTINCT limit_name, limit_key FROM (
              SELECT limit_name, limit_key FROM medley_job
              WHERE queue = :queue AND state IN ('enqueued', 'scheduled') AND run_at <= :now
                AND limit_name IS NOT NULL
              ORDER BY priority, run_at, id
              LIMIT :limit * 5 + 50)) AS c
    JOIN medley_limit AS l ON l.name = c.limit_name
    LEFT JOIN medley_limit_usage AS u ON u.name = c.limit_name AND u.key = c.limit_key
)
WHERE wait > 0
