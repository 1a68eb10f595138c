-- Medley schema, version 5, SQLite dialect: the AI pipeline's documents and fragments.
-- Same tables and meaning as PostgreSQL's 0005 (see there for the reasoning); times are
-- REAL unix seconds and vectors BLOBs of little-endian float32. SQLite has no pgvector:
-- similarity scans the BLOBs (medley_fragment_model_idx).

CREATE TABLE medley_document (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL,
    source         TEXT    NOT NULL,
    media_type     TEXT    NOT NULL,
    content_hash   TEXT    NOT NULL UNIQUE,
    body           TEXT    NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'extracting'
                   CHECK (status IN ('extracting', 'embedding', 'ready', 'failed')),
    fragment_count INTEGER NOT NULL DEFAULT 0,
    error          TEXT,
    created_at     REAL    NOT NULL,
    updated_at     REAL    NOT NULL,
    ready_at       REAL
);

CREATE TABLE medley_fragment (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id  INTEGER NOT NULL REFERENCES medley_document (id) ON DELETE CASCADE,
    ordinal      INTEGER NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset   INTEGER NOT NULL,
    tokens       INTEGER NOT NULL,
    section      TEXT,
    body         TEXT    NOT NULL,
    model        TEXT,
    embedding    BLOB,
    embedded_at  REAL,
    UNIQUE (document_id, ordinal)
);

CREATE INDEX medley_fragment_pending_idx ON medley_fragment (document_id)
    WHERE embedding IS NULL;

CREATE INDEX medley_fragment_model_idx ON medley_fragment (model, id)
    WHERE embedding IS NOT NULL;
