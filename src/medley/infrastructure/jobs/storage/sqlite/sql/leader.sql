-- name: leader_attempt_elect
-- Take the term if it is free or expired, or extend our own; otherwise change nothing and
-- return no row (SQLite's upsert skips RETURNING when its WHERE refuses the update).
INSERT INTO medley_leader (name, leader_id, elected_at, expires_at)
VALUES (:name, :leader_id, :now, :now + :ttl)
ON CONFLICT (name) DO UPDATE
SET leader_id = excluded.leader_id,
    expires_at = excluded.expires_at,
    elected_at = CASE WHEN medley_leader.leader_id = excluded.leader_id
                      THEN medley_leader.elected_at ELSE excluded.elected_at END
WHERE medley_leader.expires_at < excluded.elected_at
   OR medley_leader.leader_id = excluded.leader_id
RETURNING leader_id

-- name: leader_resign
DELETE FROM medley_leader WHERE name = :name AND leader_id = :leader_id
