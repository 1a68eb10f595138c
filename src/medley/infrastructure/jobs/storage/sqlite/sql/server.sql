-- Times are REAL unix seconds bound by the adapter (:now): the file has no server clock of
-- its own, and every process sharing it runs on the same machine.

-- name: server_heartbeat
INSERT INTO medley_server (id, hostname, pid, queues, concurrency, running, cpu_percent,
                           rss_bytes, info, slots, throttled, started_at,
                           heartbeat_at)
VALUES (:id, :hostname, :pid, :queues, :concurrency, :running, :cpu_percent, :rss_bytes,
        :info, :slots, :throttled, :started_at, :now)
ON CONFLICT (id) DO UPDATE
SET running = excluded.running, cpu_percent = excluded.cpu_percent,
    rss_bytes = excluded.rss_bytes, info = excluded.info, queues = excluded.queues,
    slots = excluded.slots, throttled = excluded.throttled,
    concurrency = excluded.concurrency, heartbeat_at = excluded.heartbeat_at

-- name: server_delete
DELETE FROM medley_server WHERE id = :id

-- name: server_list
SELECT * FROM medley_server ORDER BY id

-- name: server_prune
DELETE FROM medley_server WHERE heartbeat_at < :now - :older_than_seconds
