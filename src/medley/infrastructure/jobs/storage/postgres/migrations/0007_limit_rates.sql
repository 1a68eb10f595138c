-- Medley schema, version 7: rate limits on named limits (issue #5).
--
-- A limit may now carry, besides an optional concurrency cap (`max_running`, NULL: no
-- cap), a start rate (`rate` starts per `period_seconds`) and a weighted token budget
-- (`tokens` per `period_seconds`), cluster-wide and per key for a keyed limit.
-- `blocked_until` pauses every start of the limit (a job that got HTTP 429 sets it).
ALTER TABLE medley_limit
    ALTER COLUMN max_running DROP NOT NULL,
    ADD COLUMN rate           integer          CHECK (rate > 0),
    ADD COLUMN tokens         bigint           CHECK (tokens > 0),
    ADD COLUMN period_seconds double precision NOT NULL DEFAULT 60 CHECK (period_seconds > 0),
    ADD COLUMN blocked_until  timestamptz;

-- The rate state of a (limit, key) as two token buckets of capacity `rate` (`tokens`)
-- refilled continuously over `period_seconds`, each kept as one timestamp (GCRA's
-- "theoretical arrival time"): the bucket is full when it is NULL or past, and
-- `tat - now()` is the part of a period its used capacity takes to refill. A claim of n
-- starts moves `starts_tat` to greatest(tat, now()) + n * period / rate, allowed while it
-- stays within now() + period; a reported usage moves `tokens_tat` by the difference
-- between actual and reserved. No decay job is needed and concurrent claims serialise on
-- the usage row (see medley_limit_grant).
ALTER TABLE medley_limit_usage
    ADD COLUMN starts_tat timestamptz,
    ADD COLUMN tokens_tat timestamptz;

-- How many of `want` claimable jobs of one (limit, key) may start now, in fetch order;
-- `cum_tokens[i]` is the token estimate of the first i of them. Takes the slots and
-- spends the buckets of those it grants. A function, not a CTE of the claim statement,
-- because each statement in it reads the newest committed state: the usage row is locked
-- with SELECT ... FOR UPDATE (created first only when missing) and re-read after any
-- other fetcher's commit, so two fetchers never overspend a rate, a budget or a cap; it
-- is written once, and not at all when nothing is granted. A job whose estimate alone
-- exceeds the budget may start when the bucket is full (it would wait forever otherwise);
-- the affordable jobs are counted with width_bucket (`p_cum_tokens` is a running sum of
-- estimates that are never negative, so it is sorted as width_bucket needs). Time is
-- clock_timestamp(), not the transaction's now(): a fetcher that began before another
-- one committed its grant must not see that grant's time as in its future. The slots of
-- a limit nobody defined are counted too (every outcome gives one back), so a limit
-- removed and defined again sees what runs.
CREATE FUNCTION medley_limit_grant(p_name text, p_key text, p_want integer,
                                   p_cum_tokens double precision[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    l medley_limit%ROWTYPE;
    u medley_limit_usage%ROWTYPE;
    n integer := p_want;
    avail double precision;
    at_now timestamptz;
BEGIN
    SELECT * INTO l FROM medley_limit WHERE name = p_name;
    IF NOT FOUND THEN
        -- A limit nobody defined binds nothing, but its slots are still counted: every
        -- outcome gives one back, so a limit defined again later sees what runs.
        INSERT INTO medley_limit_usage AS x (name, key, running) VALUES (p_name, p_key, p_want)
        ON CONFLICT (name, key) DO UPDATE SET running = x.running + p_want, granted = p_want;
        RETURN p_want;
    END IF;
    SELECT * INTO u FROM medley_limit_usage WHERE name = p_name AND key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        -- A new key: create its row; if another fetcher just did, lock and read that one.
        INSERT INTO medley_limit_usage AS x (name, key) VALUES (p_name, p_key)
        ON CONFLICT (name, key) DO UPDATE SET granted = x.granted
        RETURNING * INTO u;
    END IF;
    at_now := clock_timestamp();  -- read after any wait for the lock (see above)
    IF l.blocked_until IS NOT NULL AND l.blocked_until > at_now THEN
        RETURN 0;
    END IF;
    IF l.max_running IS NOT NULL THEN
        n := least(n, l.max_running - u.running);
    END IF;
    IF l.rate IS NOT NULL AND n > 0 THEN
        avail := extract(epoch FROM at_now - greatest(coalesce(u.starts_tat, at_now), at_now))
                 + l.period_seconds;
        n := least(n, floor(avail * l.rate / l.period_seconds + 1e-9)::integer);
    END IF;
    IF l.tokens IS NOT NULL AND n > 0 THEN
        avail := (extract(epoch FROM at_now - greatest(coalesce(u.tokens_tat, at_now), at_now))
                  + l.period_seconds) * l.tokens / l.period_seconds;
        -- The jobs whose running sum fits; the first one alone on a full bucket (it would
        -- wait forever otherwise).
        n := least(n, greatest(width_bucket(avail + 1e-6, p_cum_tokens[1:n]),
                               CASE WHEN coalesce(u.tokens_tat, at_now) <= at_now
                                    THEN 1 ELSE 0 END));
    END IF;
    IF n <= 0 THEN
        RETURN 0;
    END IF;
    UPDATE medley_limit_usage
    SET running = running + n,
        granted = n,
        starts_tat = CASE WHEN l.rate IS NULL THEN starts_tat
            ELSE greatest(coalesce(starts_tat, at_now), at_now)
                 + make_interval(secs => n * l.period_seconds / l.rate) END,
        tokens_tat = CASE WHEN l.tokens IS NULL THEN tokens_tat
            ELSE greatest(coalesce(tokens_tat, at_now), at_now)
                 + make_interval(secs => p_cum_tokens[n] * l.period_seconds / l.tokens) END
    WHERE name = p_name AND key = p_key;
    RETURN n;
END
$$;
