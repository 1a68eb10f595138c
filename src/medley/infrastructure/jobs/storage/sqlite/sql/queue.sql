-- name: queue_set_paused
INSERT INTO medley_queue (name, paused, changed_at) VALUES (:name, :paused, :now)
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, changed_at = excluded.changed_at

-- name: queue_list
SELECT name, paused FROM medley_queue ORDER BY name
