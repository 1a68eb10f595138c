-- name: server_heartbeat
INSERT INTO medley_server (id, hostname, pid, queues, concurrency, running, cpu_percent,
                           rss_bytes, info, slots, throttled, started_at,
                           heartbeat_at)
VALUES (%(id)s, %(hostname)s, %(pid)s, %(queues)s, %(concurrency)s, %(running)s,
        %(cpu_percent)s, %(rss_bytes)s, %(info)s, %(slots)s, %(throttled)s, %(started_at)s,
        now())
ON CONFLICT (id) DO UPDATE
SET running = excluded.running, cpu_percent = excluded.cpu_percent,
    rss_bytes = excluded.rss_bytes, info = excluded.info, queues = excluded.queues,
    slots = excluded.slots, throttled = excluded.throttled,
    concurrency = excluded.concurrency, heartbeat_at = now()

-- name: server_delete
DELETE FROM medley_server WHERE id = %(id)s

-- name: server_list
SELECT * FROM medley_server ORDER BY id

-- name: server_prune
DELETE FROM medley_server WHERE heartbeat_at < now() - make_interval(secs => %(older_than_seconds)s)
