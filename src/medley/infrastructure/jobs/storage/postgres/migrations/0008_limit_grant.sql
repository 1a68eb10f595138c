-- Medley schema, version 8: a cheaper medley_limit_grant (same signature, same meaning as
-- in 0007; issue #5's cost-of-a-limit benchmark).
--
-- 0007's version wrote the usage row twice per call (an upsert to lock it, then the
-- update) and counted the affordable jobs with a query over unnest(). This one locks the
-- row with SELECT ... FOR UPDATE (created first only when missing), writes it once and
-- not at all when nothing is granted, and counts with width_bucket (`p_cum_tokens` is a
-- running sum of estimates that are never negative, so it is sorted as width_bucket
-- needs). Each statement still reads the newest committed row after any wait for another
-- fetcher's lock, so two fetchers never overspend a cap, a rate or a budget. It also
-- counts the slots of a limit that is not defined (0007 left them out while every outcome
-- gave one back, so a limit removed and defined again under-counted what ran).
CREATE OR REPLACE FUNCTION medley_limit_grant(p_name text, p_key text, p_want integer,
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
    at_now := clock_timestamp();  -- read after any wait for the lock (see 0007)
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
