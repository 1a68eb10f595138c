-- Medley schema, version 5: the AI pipeline's documents and fragments
-- (medley.infrastructure.ai). Jobs refer to these rows by id; the rows never refer to
-- jobs, so job retention never touches them.

CREATE TABLE medley_document (
    id             bigserial   PRIMARY KEY,
    name           text        NOT NULL,
    source         text        NOT NULL,
    media_type     text        NOT NULL,
    -- SHA-256 of `body`: ingesting the same content again (a retried job, a re-upload)
    -- finds the existing document instead of duplicating it.
    content_hash   text        NOT NULL UNIQUE,
    -- The extracted plain text; fragment offsets point into it.
    body           text        NOT NULL,
    status         text        NOT NULL DEFAULT 'extracting'
                   CHECK (status IN ('extracting', 'embedding', 'ready', 'failed')),
    fragment_count integer     NOT NULL DEFAULT 0,
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    ready_at       timestamptz
);

CREATE TABLE medley_fragment (
    id           bigserial   PRIMARY KEY,
    document_id  bigint      NOT NULL REFERENCES medley_document (id) ON DELETE CASCADE,
    ordinal      integer     NOT NULL,
    start_offset integer     NOT NULL,
    end_offset   integer     NOT NULL,
    tokens       integer     NOT NULL,
    section      text,
    body         text        NOT NULL,
    -- The model that produced `embedding`; similarity compares vectors of one model only.
    model        text,
    -- Unit-length float32 vector, little-endian, 4 bytes per dimension. Always written, so
    -- that every database can answer similarity queries with or without pgvector.
    embedding    bytea,
    embedded_at  timestamptz,
    UNIQUE (document_id, ordinal)
);

-- Serves fragment_count_pending (is this document fully embedded?): only the fragments
-- still waiting, which is few once the pipeline has caught up.
CREATE INDEX medley_fragment_pending_idx ON medley_fragment (document_id)
    WHERE embedding IS NULL;

-- Serves fragment_scan (similarity without pgvector): the embedded fragments of a model.
CREATE INDEX medley_fragment_model_idx ON medley_fragment (model, id)
    WHERE embedding IS NOT NULL;

-- pgvector, where the server has it: a `vector` copy of each embedding, so that
-- similarity is one ORDER BY embedding_vector <=> query on the server. The column has no
-- fixed dimension (models differ), hence no ANN index: an exact scan, which is what a
-- six-figure fragment count needs anyway. Servers without the extension, or roles not
-- allowed to create it, keep the bytea column only; the migration succeeds either way.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS vector;
            ALTER TABLE medley_fragment ADD COLUMN embedding_vector vector;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'pgvector is available but this role cannot create it: skipped';
        END;
    END IF;
END
$$;
