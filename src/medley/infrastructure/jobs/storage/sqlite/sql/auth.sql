-- Dashboard users (argon2 hashes) and API tokens (sha256 of a random secret). Hashing
-- happens in the web layer; these queries only store and find hashes.

-- name: user_upsert
-- SQLite has no xmax: whether the row existed is read first, in the same transaction.
SELECT NOT EXISTS (SELECT 1 FROM medley_user WHERE name = :name) AS created;
INSERT INTO medley_user (name, password_hash, role, created_at)
VALUES (:name, :password_hash, :role, :now)
ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role

-- name: user_get
SELECT name, password_hash, role, created_at FROM medley_user WHERE name = :name

-- name: user_delete
DELETE FROM medley_user WHERE name = :name RETURNING name

-- name: user_count
SELECT count(*) AS count FROM medley_user

-- name: token_insert
INSERT INTO medley_token (name, token_hash, role, created_at)
VALUES (:name, :token_hash, :role, :now)
RETURNING id

-- name: token_get_by_hash
SELECT id, name, role, created_at, revoked_at FROM medley_token WHERE token_hash = :token_hash

-- name: token_revoke
UPDATE medley_token SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL RETURNING id

-- name: token_list
SELECT id, name, role, created_at, revoked_at FROM medley_token ORDER BY id
