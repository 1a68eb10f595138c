-- name: migration_create_table
CREATE TABLE IF NOT EXISTS medley_migration (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at REAL    NOT NULL
)

-- name: migration_lock
-- SQLite has no advisory locks and needs none: migration_apply runs inside BEGIN IMMEDIATE,
-- whose write lock queues concurrent `medley migrate` runs (up to the busy timeout) as
-- PostgreSQL's advisory lock does. Unused; defined so that both backends have the same
-- query names.
SELECT NULL AS unused WHERE 0

-- name: migration_get_applied
SELECT version FROM medley_migration ORDER BY version

-- name: migration_record
INSERT INTO medley_migration (version, name, applied_at) VALUES (:version, :name, :now)

-- name: migration_table_exists
-- SQLite has no to_regclass: the catalogue is sqlite_master.
SELECT EXISTS (
    SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'medley_migration'
) AS present
