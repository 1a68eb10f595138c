-- name: migration_create_table
CREATE TABLE IF NOT EXISTS medley_migration (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- name: migration_lock
-- Transaction-scoped advisory lock: concurrent `medley migrate` runs queue up.
SELECT pg_advisory_xact_lock(72011001)

-- name: migration_get_applied
SELECT version FROM medley_migration ORDER BY version

-- name: migration_record
INSERT INTO medley_migration (version, name) VALUES (%(version)s, %(name)s)

-- name: migration_table_exists
SELECT to_regclass('medley_migration') IS NOT NULL AS present
