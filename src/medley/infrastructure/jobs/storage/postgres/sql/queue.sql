-- name: queue_set_paused
INSERT INTO medley_queue (name, paused) VALUES (%(name)s, %(paused)s)
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, changed_at = now()

-- name: queue_list
SELECT name, paused FROM medley_queue ORDER BY name
