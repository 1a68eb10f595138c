-- name: job_insert_many
-- One statement for a whole batch: rows arrive as parallel arrays (unnest), the unique
-- index skips jobs whose key a live job holds, and one pg_notify per queue wakes listening workers (PostgreSQL folds duplicate
-- notifications of one transaction into one).
WITH input AS (
    SELECT * FROM unnest(
        %(job)s::text[], %(queue)s::text[], %(priority)s::int[], %(state)s::text[],
        %(args)s::jsonb[], %(kwargs)s::jsonb[], %(run_at)s::timestamptz[],
        %(max_attempts)s::int[], %(timeout_seconds)s::float8[], %(unique_key)s::text[],
        %(tags)s::jsonb[], %(meta)s::jsonb[]
    ) WITH ORDINALITY AS i(job, queue, priority, state, args, kwargs, run_at, max_attempts,
                           timeout_seconds, unique_key, tags, meta, ord)
),
inserted AS (
    INSERT INTO medley_job (job, queue, priority, state, args, kwargs, run_at, max_attempts,
                            timeout_seconds, unique_key, tags, meta, limit_name, limit_key)
    SELECT job, queue, priority, state, args, kwargs, coalesce(run_at, now()), max_attempts,
           timeout_seconds, unique_key, tags, meta,
           meta ->> 'limit', coalesce(meta ->> 'limit_key', '')  -- migration 0011
    FROM input ORDER BY ord
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL
        AND state IN ('scheduled', 'enqueued', 'processing', 'awaiting') DO NOTHING
    RETURNING id, state, queue, unique_key
),
counted AS (
    -- The dashboard's counters (migration 0008: inserts count themselves, no trigger).
    INSERT INTO medley_stat_delta (queue, state, minute, delta)
    SELECT queue, state, 'epoch', count(*) FROM inserted GROUP BY queue, state
),
notified AS (
    SELECT pg_notify('medley_job', q.queue)
    FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'enqueued') q
)
SELECT id, state, unique_key, (SELECT count(*) FROM notified) AS notified FROM inserted

-- name: job_insert_one
-- The single-enqueue path (a web request enqueuing one job): scalar parameters instead of
-- one-element arrays, otherwise the same as job_insert_many.
WITH inserted AS (
    INSERT INTO medley_job (job, queue, priority, state, args, kwargs, run_at, max_attempts,
                            timeout_seconds, unique_key, tags, meta, limit_name, limit_key)
    VALUES (%(job)s, %(queue)s, %(priority)s, %(state)s, %(args)s::jsonb, %(kwargs)s::jsonb,
            coalesce(%(run_at)s::timestamptz, now()), %(max_attempts)s,
            %(timeout_seconds)s::float8, %(unique_key)s::text, %(tags)s::jsonb,
            %(meta)s::jsonb, %(meta)s::jsonb ->> 'limit',
            coalesce(%(meta)s::jsonb ->> 'limit_key', ''))
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL
        AND state IN ('scheduled', 'enqueued', 'processing', 'awaiting') DO NOTHING
    RETURNING id, state, queue, unique_key
),
counted AS (
    INSERT INTO medley_stat_delta (queue, state, minute, delta)
    SELECT queue, state, 'epoch', 1 FROM inserted
)
SELECT id, state, unique_key,
       (SELECT pg_notify('medley_job', queue) FROM inserted WHERE state = 'enqueued') AS notified
FROM inserted

-- name: job_get_live_by_unique_key
SELECT id, state, unique_key FROM medley_job
WHERE unique_key = ANY(%(unique_keys)s::text[])
  AND state IN ('scheduled', 'enqueued', 'processing', 'awaiting')

-- name: job_reserve_ids
-- Bulk enqueue takes its ids first, so that it knows them without reading back what COPY
-- wrote (ids drawn by other sessions at the same time never mix in). One row: the first
-- and last id, and only when others drew ids in between (the drawn ids are not one run)
-- the array of them; sending 1,000 ids cost the server ~0.2 ms and the client more to
-- decode. The same round trip counts the jobs per (queue, state) for the dashboard (as
-- job_insert_many does) and wakes the queues' workers: both take effect with the COPY, at
-- commit, or not at all.
WITH drawn AS MATERIALIZED (
    SELECT nextval('medley_job_id_seq') AS id FROM generate_series(1, %(jobs)s)
),
counted AS (
    INSERT INTO medley_stat_delta (queue, state, minute, delta)
    SELECT queue, state, 'epoch', n
    FROM unnest(%(count_queue)s::text[], %(count_state)s::text[], %(count)s::bigint[])
        AS c(queue, state, n)
),
notified AS (SELECT pg_notify('medley_job', q) FROM unnest(%(queues)s::text[]) AS q),
span AS (SELECT min(id) AS first_id, max(id) AS last_id FROM drawn)
SELECT first_id, last_id,
       CASE WHEN last_id - first_id + 1 <> %(jobs)s
            THEN (SELECT array_agg(id ORDER BY id) FROM drawn) END AS ids,
       now() AS now, (SELECT count(*) FROM notified) AS notified
FROM span

-- name: job_copy
-- The adapter replaces OPTIONAL with those of kwargs, run_at, timeout_seconds, tags and meta
-- (in this order) that some job of the batch sets; the others take their defaults. With
-- meta come limit_name and limit_key, as the other inserts derive them (migration 0011).
COPY medley_job (id, job, queue, priority, state, args, max_attempts, OPTIONAL) FROM STDIN

-- name: job_fetch_available
-- Claim a batch in one statement. SKIP LOCKED lets concurrent fetchers pass over rows
-- another transaction is claiming instead of waiting on them. Due `scheduled` jobs are
-- claimed directly, so no mover has to run first. Served by medley_job_fetch_free_idx. A paused
-- queue (medley_queue) yields nothing: one primary-key probe, evaluated once per statement.
-- Jobs with a limit are left to job_fetch_available_limited; `limited_waiting` (one probe
-- of the empty medley_job_limited_idx when there are none, in a row of its own that comes
-- back even when nothing was claimed) tells the adapter to use that one for this queue.
WITH claimable AS (
    SELECT id, state AS from_state FROM medley_job
    WHERE queue = %(queue)s AND state IN ('enqueued', 'scheduled') AND run_at <= now()
      AND NOT EXISTS (SELECT 1 FROM medley_queue p WHERE p.name = %(queue)s AND p.paused)
      AND limit_name IS NULL
    ORDER BY priority, run_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
),
claimed AS (
    UPDATE medley_job j
    SET state = 'processing', attempt = j.attempt + 1, lease_owner = %(worker_id)s,
        started_at = now(), progress_fraction = NULL, progress_message = NULL,
        cancel_requested = false
    FROM claimable c WHERE j.id = c.id
    RETURNING j.*, c.from_state
),
history AS (
    INSERT INTO medley_job_history (job_id, from_state, to_state, reason, attempt, worker)
    SELECT id, from_state, 'processing', 'fetched', attempt, %(worker_id)s FROM claimed
)
-- Only the columns a worker needs: every jsonb column returned is decoded per job.
SELECT c.id, c.job, c.queue, c.priority, c.state, c.args, c.kwargs, c.attempt,
       c.max_attempts, c.timeout_seconds, c.unique_key, c.tags, c.progress_fraction,
       c.progress_message, NULL::jsonb AS result, c.error, c.lease_owner, c.cancel_requested,
       c.created_at, c.run_at, c.started_at, c.finished_at, c.meta, c.batch_id,
       f.limited_waiting
-- limited_waiting: a scalar subquery in index order rather than EXISTS, whose plan may
-- be a sequential scan of medley_job when the statistics expect many limited jobs.
FROM (SELECT (SELECT true FROM medley_job l
              WHERE l.queue = %(queue)s AND l.state IN ('enqueued', 'scheduled')
                AND l.limit_name IS NOT NULL AND l.run_at <= now()
              ORDER BY l.priority, l.run_at, l.id LIMIT 1) IS NOT NULL AS limited_waiting) f
LEFT JOIN claimed c ON true
ORDER BY c.priority, c.run_at, c.id

-- name: job_fetch_available_limited
-- job_fetch_available for a queue that holds jobs with a limit (medley_limit): the
-- adapter switches to it while `limited_waiting` says so, so jobs without limits never
-- pay for this statement. `free` takes jobs without a limit; `eligible` reads the oldest
-- runnable limited jobs (a window of 5 x limit + 50, from medley_job_limited_idx: one
-- empty probe when there are none) and keeps, per (limit, key), as many as its cap, its
-- start rate and its token budget have room for as this statement's snapshot sees them
-- (nothing while the limit is blocked), so a flood of one key crowds out neither the
-- queue nor other keys within the window; a limit nobody defined binds nothing.
-- `granted` then decides for real with medley_limit_grant (migration 0007), which locks
-- each (limit, key) usage row and reads its newest state, so two fetchers never both take
-- the last slot or overspend a rate; only as many jobs of each key as were granted are
-- claimed (`limited_denied`: some key got fewer than it asked for). A job's token
-- estimate is `meta.limit_tokens` (0 without).
WITH free AS (
    -- Served by medley_job_fetch_free_idx, which holds no limited job: a backlog of
    -- limited jobs ahead is never walked through.
    SELECT id, state AS from_state, priority, run_at, limit_name, limit_key,
           0::float8 AS tokens
    FROM medley_job j
    WHERE queue = %(queue)s AND state IN ('enqueued', 'scheduled') AND run_at <= now()
      AND NOT EXISTS (SELECT 1 FROM medley_queue p WHERE p.name = %(queue)s AND p.paused)
      AND limit_name IS NULL
    ORDER BY priority, run_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
),
window_ AS (
    -- The oldest runnable limited jobs: read once, for `eligible` and for
    -- `limited_waiting` (a second walk of medley_job_limited_idx, through the index
    -- entries of the jobs claimed since the last vacuum, cost as much as this one).
    SELECT j.id, j.priority, j.run_at, j.limit_name, j.limit_key,
           coalesce((j.meta ->> 'limit_tokens')::float8, 0) AS tokens
    FROM medley_job j
    WHERE j.queue = %(queue)s AND j.state IN ('enqueued', 'scheduled')
      AND j.run_at <= now() AND j.limit_name IS NOT NULL
    ORDER BY j.priority, j.run_at, j.id
    LIMIT %(limit)s * 5 + 50
),
eligible AS (
    SELECT r.id, r.priority, r.run_at, r.tokens FROM (
        -- NULL room: no bound of that kind (never `limit`: every fetcher must see past
        -- the jobs that another is locking). The rate's room gets 10 ms of slack against
        -- the skew between this snapshot's now() and the clock of the grants.
        SELECT c.id, c.priority, c.run_at, c.tokens,
               l.max_running - coalesce(u.running, 0) AS room,
               floor((extract(epoch FROM now() - greatest(u.starts_tat, now()))
                      + l.period_seconds + 0.01) * l.rate / l.period_seconds) AS rate_room,
               CASE WHEN l.tokens IS NOT NULL
                    THEN (extract(epoch FROM now() - greatest(u.tokens_tat, now()))
                          + l.period_seconds) * l.tokens / l.period_seconds
               END AS token_room,
               coalesce(u.tokens_tat <= now(), true) AS token_full,
               coalesce(l.blocked_until > now(), false) AS blocked,
               row_number() OVER w AS rn,
               sum(c.tokens) OVER w AS cum_tokens
        FROM window_ c
        LEFT JOIN medley_limit l ON l.name = c.limit_name
        LEFT JOIN medley_limit_usage u ON u.name = c.limit_name AND u.key = c.limit_key
        WINDOW w AS (PARTITION BY c.limit_name, c.limit_key ORDER BY c.priority, c.run_at, c.id)
    ) r
    WHERE r.rn <= coalesce(r.room, r.rn) AND r.rn <= coalesce(r.rate_room, r.rn)
      AND NOT r.blocked
      AND (r.token_room IS NULL OR r.cum_tokens <= r.token_room + 1e-6
           OR (r.rn = 1 AND r.token_full))
    ORDER BY r.priority, r.run_at, r.id
),
limited AS (
    -- All the eligible jobs are candidates and the batch limit applies after SKIP LOCKED:
    -- a fetcher racing another one that locked the first few takes the next ones instead
    -- of coming back empty while there is room (medley_limit_grant has the last word).
    -- Joined in fetch order, so that the primary-key probes stop once `limit` rows are
    -- locked (not one probe per eligible job: 150 for a batch of 20).
    SELECT j.id, j.state AS from_state, j.priority, j.run_at, j.limit_name, j.limit_key,
           e.tokens
    FROM eligible e JOIN medley_job j ON j.id = e.id
    WHERE j.state IN ('enqueued', 'scheduled') AND j.run_at <= now()
      AND NOT EXISTS (SELECT 1 FROM medley_queue p WHERE p.name = %(queue)s AND p.paused)
    ORDER BY e.priority, e.run_at, e.id
    LIMIT %(limit)s
    FOR UPDATE OF j SKIP LOCKED
),
claimable AS (
    SELECT * FROM (SELECT * FROM free UNION ALL SELECT * FROM limited) c
    ORDER BY priority, run_at, id
    LIMIT %(limit)s
),
granted AS (
    -- medley_limit_grant locks usage rows: keys in one order for every fetcher (OFFSET 0
    -- keeps the sorted subquery from being flattened under the function call).
    SELECT w.name, w.key, w.n AS want,
           medley_limit_grant(w.name, w.key, w.n, w.cum) AS granted
    FROM (
        SELECT c.limit_name AS name, c.limit_key AS key, count(*)::integer AS n,
               array_agg(c.cum ORDER BY c.rn) AS cum
        FROM (
            SELECT limit_name, limit_key, row_number() OVER w AS rn, sum(tokens) OVER w AS cum
            FROM claimable WHERE limit_name IS NOT NULL
            WINDOW w AS (PARTITION BY limit_name, limit_key ORDER BY priority, run_at, id)
        ) c
        GROUP BY 1, 2
        ORDER BY 1, 2
        OFFSET 0
    ) w
),
ranked AS (
    SELECT c.id, c.from_state FROM (
        SELECT c.*, row_number() OVER (PARTITION BY c.limit_name, c.limit_key
                                       ORDER BY c.priority, c.run_at, c.id) AS rn
        FROM claimable c
    ) c
    LEFT JOIN granted g ON g.name = c.limit_name AND g.key = c.limit_key
    WHERE g.name IS NULL OR c.rn <= g.granted
),
claimed AS (
    UPDATE medley_job j
    SET state = 'processing', attempt = j.attempt + 1, lease_owner = %(worker_id)s,
        started_at = now(), progress_fraction = NULL, progress_message = NULL,
        cancel_requested = false
    FROM ranked c WHERE j.id = c.id
    RETURNING j.*, c.from_state
),
history AS (
    INSERT INTO medley_job_history (job_id, from_state, to_state, reason, attempt, worker)
    SELECT id, from_state, 'processing', 'fetched', attempt, %(worker_id)s FROM claimed
)
-- Only the columns a worker needs: every jsonb column returned is decoded per job.
SELECT c.id, c.job, c.queue, c.priority, c.state, c.args, c.kwargs, c.attempt,
       c.max_attempts, c.timeout_seconds, c.unique_key, c.tags, c.progress_fraction,
       c.progress_message, NULL::jsonb AS result, c.error, c.lease_owner, c.cancel_requested,
       c.created_at, c.run_at, c.started_at, c.finished_at, c.meta, c.batch_id,
       f.limited_waiting, f.limited_denied
FROM (SELECT EXISTS (SELECT 1 FROM window_) AS limited_waiting,
             EXISTS (SELECT 1 FROM granted WHERE granted < want) AS limited_denied) f
LEFT JOIN claimed c ON true
ORDER BY c.priority, c.run_at, c.id

-- name: job_fetch_available_limited_fast
-- job_fetch_available_limited without `eligible`, for a queue whose limits did not bind
-- at its last fetches (the adapter's choice, see LimitedQueues): `limited` locks the
-- first limited jobs in fetch order as `free` does, and medley_limit_grant still decides
-- per (limit, key) with the same row lock, so no cap, rate or budget is ever overspent;
-- only fairness needs `eligible` (jobs of a key at its bound ahead in the queue would
-- hold back those of other keys behind them here). `limited_denied` says that a limit
-- bound (some key was granted fewer jobs than were locked for it): the adapter then takes
-- the rest of the batch with job_fetch_available_limited and uses it for a while.
-- Cheaper by the window of 5 x limit + 50 jobs: their heap reads, two sorts, the window
-- functions and the planning of it all (~0.5 ms of a ~2 ms fetch of 20).
WITH free AS (
    -- Served by medley_job_fetch_free_idx, which holds no limited job: a backlog of
    -- limited jobs ahead is never walked through.
    SELECT id, state AS from_state, priority, run_at, limit_name, limit_key,
           0::float8 AS tokens
    FROM medley_job j
    WHERE queue = %(queue)s AND state IN ('enqueued', 'scheduled') AND run_at <= now()
      AND NOT EXISTS (SELECT 1 FROM medley_queue p WHERE p.name = %(queue)s AND p.paused)
      AND limit_name IS NULL
    ORDER BY priority, run_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
),
limited AS (
    -- Served by medley_job_limited_idx, as `free` by medley_job_fetch_free_idx.
    SELECT id, state AS from_state, priority, run_at, limit_name, limit_key,
           coalesce((meta ->> 'limit_tokens')::float8, 0) AS tokens
    FROM medley_job j
    WHERE queue = %(queue)s AND state IN ('enqueued', 'scheduled') AND run_at <= now()
      AND NOT EXISTS (SELECT 1 FROM medley_queue p WHERE p.name = %(queue)s AND p.paused)
      AND limit_name IS NOT NULL
    ORDER BY priority, run_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
),
claimable AS (
    SELECT * FROM (SELECT * FROM free UNION ALL SELECT * FROM limited) c
    ORDER BY priority, run_at, id
    LIMIT %(limit)s
),
granted AS (
    -- medley_limit_grant locks usage rows: keys in one order for every fetcher (OFFSET 0
    -- keeps the sorted subquery from being flattened under the function call).
    SELECT w.name, w.key, w.n AS want,
           medley_limit_grant(w.name, w.key, w.n, w.cum) AS granted
    FROM (
        SELECT c.limit_name AS name, c.limit_key AS key, count(*)::integer AS n,
               array_agg(c.cum ORDER BY c.rn) AS cum
        FROM (
            SELECT limit_name, limit_key, row_number() OVER w AS rn, sum(tokens) OVER w AS cum
            FROM claimable WHERE limit_name IS NOT NULL
            WINDOW w AS (PARTITION BY limit_name, limit_key ORDER BY priority, run_at, id)
        ) c
        GROUP BY 1, 2
        ORDER BY 1, 2
        OFFSET 0
    ) w
),
ranked AS (
    SELECT c.id, c.from_state FROM (
        SELECT c.*, row_number() OVER (PARTITION BY c.limit_name, c.limit_key
                                       ORDER BY c.priority, c.run_at, c.id) AS rn
        FROM claimable c
    ) c
    LEFT JOIN granted g ON g.name = c.limit_name AND g.key = c.limit_key
    WHERE g.name IS NULL OR c.rn <= g.granted
),
claimed AS (
    UPDATE medley_job j
    SET state = 'processing', attempt = j.attempt + 1, lease_owner = %(worker_id)s,
        started_at = now(), progress_fraction = NULL, progress_message = NULL,
        cancel_requested = false
    FROM ranked c WHERE j.id = c.id
    RETURNING j.*, c.from_state
),
history AS (
    INSERT INTO medley_job_history (job_id, from_state, to_state, reason, attempt, worker)
    SELECT id, from_state, 'processing', 'fetched', attempt, %(worker_id)s FROM claimed
)
-- Only the columns a worker needs: every jsonb column returned is decoded per job.
SELECT c.id, c.job, c.queue, c.priority, c.state, c.args, c.kwargs, c.attempt,
       c.max_attempts, c.timeout_seconds, c.unique_key, c.tags, c.progress_fraction,
       c.progress_message, NULL::jsonb AS result, c.error, c.lease_owner, c.cancel_requested,
       c.created_at, c.run_at, c.started_at, c.finished_at, c.meta, c.batch_id,
       f.limited_waiting, f.limited_denied
-- limited_waiting: a scalar subquery in index order rather than EXISTS, whose plan may
-- be a sequential scan of medley_job when the statistics expect many limited jobs.
FROM (SELECT (SELECT true FROM medley_job l
              WHERE l.queue = %(queue)s AND l.state IN ('enqueued', 'scheduled')
                AND l.limit_name IS NOT NULL AND l.run_at <= now()
              ORDER BY l.priority, l.run_at, l.id LIMIT 1) IS NOT NULL AS limited_waiting,
             EXISTS (SELECT 1 FROM granted WHERE granted < want) AS limited_denied) f
LEFT JOIN claimed c ON true
ORDER BY c.priority, c.run_at, c.id

-- name: job_set_state_if_processing
-- Completions of many jobs in one statement. The guard (still processing, same owner,
-- same attempt) is the fencing token: a late write from a worker that lost the job
-- (rescued, cancelled, deleted) changes nothing and is left out of the result.
WITH input AS (
    SELECT * FROM unnest(
        %(id)s::bigint[], %(attempt)s::int[], %(state)s::text[], %(reason)s::text[],
        %(result)s::jsonb[], %(error)s::jsonb[], %(run_at)s::timestamptz[],
        %(progress_fraction)s::float8[], %(progress_message)s::text[], %(release)s::bool[]
    ) AS u(id, attempt, state, reason, result, error, run_at, progress_fraction,
           progress_message, release)
),
updated AS (
    UPDATE medley_job j
    SET state = u.state,
        result = u.result,
        error = CASE WHEN u.state = 'succeeded' THEN NULL ELSE coalesce(u.error, j.error) END,
        run_at = coalesce(u.run_at, j.run_at),
        attempt = CASE WHEN u.release THEN j.attempt - 1 ELSE j.attempt END,
        progress_fraction = coalesce(u.progress_fraction, j.progress_fraction),
        progress_message = coalesce(u.progress_message, j.progress_message),
        finished_at = CASE WHEN u.state IN ('succeeded', 'failed', 'cancelled')
                           THEN now() END,
        lease_owner = NULL,
        cancel_requested = false
    FROM input u
    WHERE j.id = u.id AND j.state = 'processing' AND j.lease_owner = %(worker_id)s
      AND j.attempt = u.attempt
      -- Fast path (autocommit, :resolving false): a final outcome of a job with
      -- continuations or an uncounted batch membership is held back, for the adapter to
      -- write again with :resolving in a transaction that also settles them. Re-checked on
      -- the newest row version if an enqueue declared a dependant meanwhile.
      AND (%(resolving)s OR u.state NOT IN ('succeeded', 'failed', 'cancelled')
           OR (j.dependants = 0 AND NOT j.batch_pending))
    RETURNING j.id, j.state, j.queue, u.reason, u.attempt, u.error, j.dependants,
              j.batch_pending, j.limit_name, j.limit_key
),
limit_released AS (
    -- Every outcome ends `processing`, so each written job gives its limit slot back.
    UPDATE medley_limit_usage u SET running = greatest(0, u.running - d.n)
    FROM (SELECT limit_name, limit_key, count(*) AS n FROM updated
          WHERE limit_name IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2) d
    WHERE u.name = d.limit_name AND u.key = d.limit_key
    RETURNING u.name
),
history AS (
    INSERT INTO medley_job_history (job_id, from_state, to_state, reason, attempt, worker, error)
    SELECT id, 'processing', state, reason, attempt, %(worker_id)s, error FROM updated
),
notified AS (
    -- A freed limit slot wakes the queue's workers too (they passed its jobs over).
    SELECT pg_notify('medley_job', q.queue)
    FROM (SELECT DISTINCT queue FROM updated
          WHERE state = 'enqueued' OR limit_name IS NOT NULL) q
)
SELECT id, state, dependants, batch_pending, (SELECT count(*) FROM notified) AS notified,
       (SELECT count(*) FROM limit_released) AS limits_released
FROM updated

-- name: job_progress_update
UPDATE medley_job j
SET progress_fraction = u.fraction, progress_message = u.message
FROM unnest(%(id)s::bigint[], %(attempt)s::int[], %(fraction)s::float8[], %(message)s::text[])
    AS u(id, attempt, fraction, message)
WHERE j.id = u.id AND j.state = 'processing' AND j.lease_owner = %(worker_id)s
  AND j.attempt = u.attempt

-- name: job_get
SELECT * FROM medley_job WHERE id = %(id)s

-- name: job_history
-- A job's creation is not stored as a history row (it was a third of a bulk enqueue's
-- work in the database): it is read from the job, at its created_at, in the state it was
-- created in, which is where the first stored transition started (every transition
-- records its from_state) or, before any, the state it is still in. Jobs written by an
-- earlier version have a stored creation row (from_state NULL) and get no second.
WITH stored AS (
    SELECT id, job_id, at, from_state, to_state, reason, attempt, worker, error
    FROM medley_job_history WHERE job_id = %(id)s
),
first AS (SELECT from_state FROM stored ORDER BY id LIMIT 1)
SELECT job_id, at, from_state, to_state, reason, attempt, worker, error FROM (
    SELECT 0::bigint AS id, j.id AS job_id, j.created_at AS at, NULL::text AS from_state,
           c.state AS to_state,
           CASE c.state WHEN 'scheduled' THEN 'scheduled' ELSE 'enqueued' END AS reason,
           0 AS attempt, NULL::text AS worker, NULL::jsonb AS error
    FROM medley_job j
    CROSS JOIN LATERAL (SELECT coalesce((SELECT from_state FROM first), j.state) AS state) c
    WHERE j.id = %(id)s AND NOT EXISTS (SELECT FROM first WHERE from_state IS NULL)
    UNION ALL
    SELECT * FROM stored
) h
ORDER BY id

-- name: job_cancel
-- Waiting jobs are cancelled at once; a processing job is only flagged, and its owner is
-- told through NOTIFY so it can stop within moments (the heartbeat also polls the flag).
WITH target AS (
    SELECT id, state FROM medley_job WHERE id = %(id)s FOR UPDATE
),
cancelled AS (
    UPDATE medley_job j
    SET state = 'cancelled', finished_at = now(), lease_owner = NULL
    FROM target t
    WHERE j.id = t.id AND t.state IN ('scheduled', 'enqueued', 'awaiting')
    RETURNING j.*
),
flagged AS (
    UPDATE medley_job j SET cancel_requested = true
    FROM target t WHERE j.id = t.id AND t.state = 'processing'
    RETURNING j.*
),
history AS (
    INSERT INTO medley_job_history (job_id, from_state, to_state, reason, attempt)
    SELECT c.id, t.state, 'cancelled', 'cancelled', c.attempt FROM cancelled c JOIN target t USING (id)
),
notified AS (
    SELECT pg_notify('medley_cancel', id::text) FROM flagged
)
SELECT * FROM cancelled
UNION ALL SELECT * FROM flagged WHERE (SELECT count(*) FROM notified) >= 0
UNION ALL
SELECT j.* FROM medley_job j JOIN target t USING (id)
WHERE NOT EXISTS (SELECT 1 FROM cancelled) AND NOT EXISTS (SELECT 1 FROM flagged)

-- name: job_retry
WITH target AS (
    SELECT id, state, attempt FROM medley_job WHERE id = %(id)s FOR UPDATE
),
retried AS (
    UPDATE medley_job j
    SET state = 'enqueued', attempt = 0, run_at = now(), result = NULL, finished_at = NULL,
        progress_fraction = NULL, progress_message = NULL, cancel_requested = false
    FROM target t
    WHERE j.id = t.id AND t.state IN ('failed', 'cancelled', 'succeeded')
    RETURNING j.*
),
history AS (
    INSERT INTO medley_job_history (job_id, from_state, to_state, reason, attempt)
    SELECT r.id, t.state, 'enqueued', 'retried_by_user', t.attempt FROM retried r JOIN target t USING (id)
),
notified AS (
    SELECT pg_notify('medley_job', queue) FROM retried
)
SELECT * FROM retried WHERE (SELECT count(*) FROM notified) >= 0
UNION ALL
SELECT j.* FROM medley_job j JOIN target t USING (id) WHERE NOT EXISTS (SELECT 1 FROM retried)

-- name: job_delete
WITH target AS (
    SELECT id, state FROM medley_job WHERE id = %(id)s FOR UPDATE
),
deleted AS (
    DELETE FROM medley_job j USING target t
    WHERE j.id = t.id AND t.state <> 'processing'
    RETURNING j.*
),
history AS (
    DELETE FROM medley_job_history h USING deleted d WHERE h.job_id = d.id
)
SELECT *, true AS deleted FROM deleted
UNION ALL
SELECT j.*, false AS deleted FROM medley_job j JOIN target t USING (id)
WHERE NOT EXISTS (SELECT 1 FROM deleted)

-- name: job_retry_many
-- The dead-letter queue's "retry all matching". A failed job whose unique key a live job
-- now holds is skipped rather than failing the whole batch on the unique index.
WITH target AS (
    SELECT j.id, j.state, j.attempt FROM medley_job j
    WHERE j.state = ANY(%(states)s::text[])
      AND (%(queue)s::text IS NULL OR j.queue = %(queue)s::text)
      AND (%(job)s::text IS NULL OR j.job = %(job)s::text)
      AND (%(error_type)s::text IS NULL OR j.error ->> 'type' = %(error_type)s::text)
      AND (j.unique_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM medley_job l WHERE l.unique_key = j.unique_key
            AND l.state IN ('scheduled', 'enqueued', 'processing', 'awaiting')))
    ORDER BY j.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
),
retried AS (
    UPDATE medley_job j
    SET state = 'enqueued', attempt = 0, run_at = now(), result = NULL, finished_at = NULL,
        progress_fraction = NULL, progress_message = NULL, cancel_requested = false
    FROM target t WHERE j.id = t.id
    RETURNING j.id, j.queue
),
history AS (
    INSERT INTO medley_job_history (job_id, from_state, to_state, reason, attempt)
    SELECT t.id, t.state, 'enqueued', 'retried_by_user', t.attempt FROM target t
),
notified AS (
    SELECT pg_notify('medley_job', q.queue) FROM (SELECT DISTINCT queue FROM retried) q
)
SELECT id FROM retried WHERE (SELECT count(*) FROM notified) >= 0 ORDER BY id

-- name: job_delete_many
WITH target AS (
    SELECT j.id FROM medley_job j
    WHERE j.state = ANY(%(states)s::text[])
      AND (%(queue)s::text IS NULL OR j.queue = %(queue)s::text)
      AND (%(job)s::text IS NULL OR j.job = %(job)s::text)
      AND (%(error_type)s::text IS NULL OR j.error ->> 'type' = %(error_type)s::text)
    ORDER BY j.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
),
deleted AS (
    DELETE FROM medley_job j USING target t WHERE j.id = t.id RETURNING j.id
),
history AS (
    DELETE FROM medley_job_history h USING deleted d WHERE h.job_id = d.id
)
SELECT id FROM deleted ORDER BY id

-- name: job_get_held
-- Served by medley_job_processing_idx.
SELECT id, attempt, cancel_requested FROM medley_job
WHERE state = 'processing' AND lease_owner = %(worker_id)s

-- name: job_get_cancel_requested
SELECT id FROM medley_job
WHERE state = 'processing' AND lease_owner = %(worker_id)s AND cancel_requested

-- name: job_rescue_candidates
-- Processing jobs whose owner has not heartbeaten within the lease (or never registered).
SELECT j.id, j.attempt, j.lease_owner FROM medley_job j
WHERE j.state = 'processing'
  AND NOT EXISTS (
      SELECT 1 FROM medley_server s
      WHERE s.id = j.lease_owner
        AND s.heartbeat_at >= now() - make_interval(secs => %(lease_seconds)s)
  )
FOR UPDATE SKIP LOCKED

-- name: job_rescue
-- A job whose cancel was requested before its worker died ends cancelled, not retried.
-- Re-checks the same dead owner and attempt, so a job its owner finished (or that another
-- rescuer took) between the candidate scan and this write is left alone.
WITH input AS (
    SELECT * FROM unnest(%(id)s::bigint[], %(attempt)s::int[], %(owner)s::text[],
                         %(run_at)s::timestamptz[])
        AS u(id, attempt, owner, run_at)
),
rescued AS (
    UPDATE medley_job j
    SET state = CASE WHEN j.cancel_requested THEN 'cancelled'
                     WHEN j.attempt < j.max_attempts THEN 'scheduled' ELSE 'failed' END,
        -- No retry time: run again at once, keeping its place in the queue instead of
        -- going behind the whole backlog.
        run_at = CASE WHEN j.attempt < j.max_attempts THEN coalesce(u.run_at, j.run_at)
                      ELSE j.run_at END,
        finished_at = CASE WHEN j.attempt < j.max_attempts AND NOT j.cancel_requested
                           THEN NULL ELSE now() END,
        error = %(error)s::jsonb,
        lease_owner = NULL,
        cancel_requested = false
    FROM input u
    WHERE j.id = u.id AND j.state = 'processing' AND j.lease_owner = u.owner
      AND j.attempt = u.attempt
    RETURNING j.*, u.owner AS old_owner
),
history AS (
    INSERT INTO medley_job_history (job_id, from_state, to_state, reason, attempt, worker, error)
    SELECT id, 'processing', state, 'rescued', attempt, old_owner, error FROM rescued
),
limit_released AS (
    -- The rescue gives the dead worker's limit slots back, so a rescued job never waits
    -- on a slot held in its own name.
    UPDATE medley_limit_usage u SET running = greatest(0, u.running - d.n)
    FROM (SELECT limit_name, limit_key, count(*) AS n FROM rescued
          WHERE limit_name IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2) d
    WHERE u.name = d.limit_name AND u.key = d.limit_key
    RETURNING u.name
),
notified AS (
    SELECT pg_notify('medley_job', q.queue)
    FROM (SELECT DISTINCT queue FROM rescued WHERE state = 'scheduled' AND run_at <= now()) q
)
SELECT * FROM rescued
WHERE (SELECT count(*) FROM notified) >= 0 AND (SELECT count(*) FROM limit_released) >= 0

-- name: job_prune
WITH pruned AS (
    DELETE FROM medley_job
    WHERE state = %(state)s AND finished_at < %(finished_before)s
    RETURNING id
),
history AS (
    DELETE FROM medley_job_history h USING pruned p WHERE h.job_id = p.id
)
SELECT count(*) AS pruned FROM pruned

-- name: job_count_by_state
SELECT queue, state, count(*) AS count FROM medley_job GROUP BY queue, state ORDER BY queue, state
