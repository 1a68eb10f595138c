-- name: limit_upsert
-- `runtime` definitions (CLI, service API) always win; a `code` definition (synced by a
-- worker at start) replaces only another `code` one, so a restart never undoes
-- `medley limits set`.
INSERT INTO medley_limit (name, max_running, source, updated_at)
VALUES (%(name)s, %(max_running)s, %(source)s, now())
ON CONFLICT (name) DO UPDATE
SET max_running = EXCLUDED.max_running, source = EXCLUDED.source, updated_at = now()
WHERE EXCLUDED.source = 'runtime' OR medley_limit.source = 'code'
RETURNING name

-- name: limit_list
SELECT l.name, l.max_running, l.source, l.updated_at,
       coalesce((SELECT sum(u.running) FROM medley_limit_usage u WHERE u.name = l.name), 0)
           AS running,
       (SELECT count(*) FROM medley_limit_usage u
        WHERE u.name = l.name AND u.running > 0) AS busy_keys
FROM medley_limit l ORDER BY l.name

-- name: limit_delete
DELETE FROM medley_limit WHERE name = %(name)s RETURNING name

-- name: limit_usage
SELECT name, key, running FROM medley_limit_usage WHERE name = %(name)s AND running > 0
ORDER BY key
