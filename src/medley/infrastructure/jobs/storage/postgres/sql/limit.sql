-- name: limit_upsert
-- `runtime` definitions (CLI, service API) always win; a `code` definition (synced by a
-- worker at start) replaces only another `code` one, so a restart never undoes
-- `medley limits set`. What the buckets (medley_limit_usage) have used carries over as
-- a count: the starts and tokens of the last period still refilling are re-expressed
-- under the new rate, budget and period (capped at a full bucket), so raising a rate or
-- shortening a period takes effect at once instead of after a whole old period.
WITH old AS (SELECT rate, tokens, period_seconds FROM medley_limit WHERE name = %(name)s),
up AS (
    INSERT INTO medley_limit (name, max_running, rate, tokens, period_seconds, source,
                              updated_at)
    VALUES (%(name)s, %(max_running)s, %(rate)s, %(tokens)s, %(period_seconds)s, %(source)s,
            now())
    ON CONFLICT (name) DO UPDATE
    SET max_running = EXCLUDED.max_running, rate = EXCLUDED.rate, tokens = EXCLUDED.tokens,
        period_seconds = EXCLUDED.period_seconds, source = EXCLUDED.source, updated_at = now()
    WHERE EXCLUDED.source = 'runtime' OR medley_limit.source = 'code'
    RETURNING name, rate, tokens, period_seconds
),
rescaled AS (
    UPDATE medley_limit_usage u
    SET starts_tat = CASE
            WHEN o.rate IS NULL OR up.rate IS NULL OR u.starts_tat IS NULL
                 OR u.starts_tat <= now() THEN NULL
            ELSE now() + make_interval(secs =>
                least(extract(epoch FROM u.starts_tat - now()) * o.rate / o.period_seconds,
                      up.rate) * up.period_seconds / up.rate) END,
        tokens_tat = CASE
            WHEN o.tokens IS NULL OR up.tokens IS NULL OR u.tokens_tat IS NULL
                 OR u.tokens_tat <= now() THEN NULL
            ELSE now() + make_interval(secs =>
                least(extract(epoch FROM u.tokens_tat - now()) * o.tokens / o.period_seconds,
                      up.tokens) * up.period_seconds / up.tokens) END
    FROM old o, up
    WHERE u.name = up.name
    RETURNING u.name
)
SELECT name, (SELECT count(*) FROM rescaled) AS rescaled FROM up

-- name: limit_list
-- `starts_used`/`tokens_used`: what the buckets of every key hold now (what has not
-- refilled yet of the last period's starts and tokens).
SELECT l.name, l.max_running, l.rate, l.tokens, l.period_seconds, l.blocked_until,
       l.source, l.updated_at,
       coalesce(sum(u.running), 0) AS running,
       count(*) FILTER (WHERE u.running > 0) AS busy_keys,
       coalesce(sum(greatest(0, extract(epoch FROM u.starts_tat - now())) * l.rate
                    / l.period_seconds), 0) AS starts_used,
       coalesce(sum(greatest(0, extract(epoch FROM u.tokens_tat - now())) * l.tokens
                    / l.period_seconds), 0) AS tokens_used
FROM medley_limit l LEFT JOIN medley_limit_usage u ON u.name = l.name
GROUP BY l.name ORDER BY l.name

-- name: limit_delete
DELETE FROM medley_limit WHERE name = %(name)s RETURNING name

-- name: limit_usage
SELECT name, key, running FROM medley_limit_usage WHERE name = %(name)s AND running > 0
ORDER BY key

-- name: limit_report
-- What finished attempts tell their limit (job_set_state_if_processing's adapter runs it
-- only when one did): the tokens a job actually used replace its reservation
-- (`meta.limit_tokens`) in its key's bucket, and a job that got HTTP 429 blocks every
-- start of its limit until `blocked_until` (never shortening a longer block). Row-locks
-- the usage rows as the claim does, so a correction and a claim never overwrite each
-- other.
WITH input AS (
    SELECT * FROM unnest(%(id)s::bigint[], %(tokens)s::float8[], %(blocked_until)s::timestamptz[])
        AS i(id, tokens, blocked_until)
),
jobs AS (
    SELECT j.limit_name AS name, j.limit_key AS key, i.blocked_until,
           i.tokens - coalesce((j.meta ->> 'limit_tokens')::float8, 0) AS delta
    FROM input i JOIN medley_job j ON j.id = i.id
    WHERE j.limit_name IS NOT NULL
),
corrected AS (
    UPDATE medley_limit_usage u
    SET tokens_tat = greatest(now(), greatest(u.tokens_tat, now())
                                     + make_interval(secs => d.delta * l.period_seconds / l.tokens))
    FROM (SELECT name, key, sum(delta) AS delta FROM jobs WHERE delta IS NOT NULL
          GROUP BY 1, 2 ORDER BY 1, 2) d, medley_limit l
    WHERE u.name = d.name AND u.key = d.key AND l.name = u.name AND l.tokens IS NOT NULL
    RETURNING u.name
),
blocked AS (
    UPDATE medley_limit l SET blocked_until = greatest(l.blocked_until, b.until)
    FROM (SELECT name, max(blocked_until) AS until FROM jobs
          WHERE blocked_until IS NOT NULL GROUP BY 1) b
    WHERE l.name = b.name
    RETURNING l.name
)
SELECT (SELECT count(*) FROM corrected) AS corrected, (SELECT count(*) FROM blocked) AS blocked

-- name: limit_wait
-- Seconds until a runnable job of this queue that a start rate or a 429 block holds back
-- could start (NULL: none is held back by time), read after a fetch that left such jobs
-- behind, so that the producer sleeps until then rather than a whole poll interval. Only
-- waits above zero count: a job held by a full cap or budget is woken by the outcome
-- that frees it, and a zero here would make the worker spin. Served by
-- medley_job_limited_idx (the same window as the claim's).
SELECT min(w.wait) AS wait FROM (
    SELECT CASE WHEN l.blocked_until > now() THEN extract(epoch FROM l.blocked_until - now())
                WHEN l.rate IS NOT NULL
                THEN extract(epoch FROM coalesce(u.starts_tat, now()) - now())
                     - l.period_seconds + l.period_seconds / l.rate
           END AS wait
    FROM (SELECT DISTINCT limit_name, limit_key FROM (
              SELECT limit_name, limit_key FROM medley_job
              WHERE queue = %(queue)s AND state IN ('enqueued', 'scheduled')
                AND run_at <= now() AND limit_name IS NOT NULL
              ORDER BY priority, run_at, id
              LIMIT %(limit)s * 5 + 50) j) c
    JOIN medley_limit l ON l.name = c.limit_name
    LEFT JOIN medley_limit_usage u ON u.name = c.limit_name AND u.key = c.limit_key
) w
WHERE w.wait > 0
