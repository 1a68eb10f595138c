-- Dashboard users (argon2 hashes) and API tokens (sha256 of a random secret). Hashing
-- happens in the web layer; these queries only store and find hashes.

-- name: user_upsert
INSERT INTO medley_user AS u (name, password_hash, role)
VALUES (%(name)s, %(password_hash)s, %(role)s)
ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role
RETURNING (xmax = 0) AS created

-- name: user_get
SELECT name, password_hash, role, created_at FROM medley_user WHERE name = %(name)s

-- name: user_delete
DELETE FROM medley_user WHERE name = %(name)s RETURNING name

-- name: user_count
SELECT count(*) AS count FROM medley_user

-- name: token_insert
INSERT INTO medley_token (name, token_hash, role) VALUES (%(name)s, %(token_hash)s, %(role)s)
RETURNING id

-- name: token_get_by_hash
SELECT id, name, role, created_at, revoked_at FROM medley_token
WHERE token_hash = %(token_hash)s

-- name: token_revoke
UPDATE medley_token SET revoked_at = now() WHERE id = %(id)s AND revoked_at IS NULL
RETURNING id

-- name: token_list
SELECT id, name, role, created_at, revoked_at FROM medley_token ORDER BY id
