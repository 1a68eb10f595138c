-- The AI pipeline's queries, PostgreSQL dialect (psycopg named parameters). The SQLite
-- file defines the same names with the same meaning; tests/ai check the parity.

-- name: document_upsert
-- Ingesting content already stored returns the existing row, so a retried ingest job
-- (at-least-once delivery) never duplicates a document. `existing` says which happened.
INSERT INTO medley_document (name, source, media_type, content_hash, body)
VALUES (%(name)s, %(source)s, %(media_type)s, %(content_hash)s, %(body)s)
ON CONFLICT (content_hash) DO UPDATE SET updated_at = now()
RETURNING id, status, (xmax <> 0) AS existing;

-- name: document_get
SELECT id, name, source, media_type, status, fragment_count, error,
       length(body) AS chars, extract(epoch FROM created_at) AS created_at,
       extract(epoch FROM ready_at) AS ready_at
FROM medley_document WHERE id = %(id)s;

-- name: document_body
SELECT body FROM medley_document WHERE id = %(id)s;

-- name: document_set_status
UPDATE medley_document
SET status = %(status)s, error = %(error)s, updated_at = now(),
    ready_at = CASE WHEN %(status)s = 'ready' THEN now() ELSE ready_at END
WHERE id = %(id)s
RETURNING id;

-- name: document_progress
-- Per document: fragments stored and fragments embedded. For live views; reads every
-- fragment row of the listed documents, so callers pass the ids they follow.
SELECT d.id, d.name, d.status, d.fragment_count,
       count(f.embedding) AS embedded
FROM medley_document d
LEFT JOIN medley_fragment f ON f.document_id = d.id
WHERE d.id = ANY(%(ids)s)
GROUP BY d.id
ORDER BY d.id;

-- name: document_stats
SELECT
    (SELECT count(*) FROM medley_document) AS documents,
    (SELECT count(*) FROM medley_document WHERE status = 'ready') AS ready,
    (SELECT count(*) FROM medley_document WHERE status = 'failed') AS failed,
    (SELECT count(*) FROM medley_fragment) AS fragments,
    (SELECT count(*) FROM medley_fragment WHERE embedding IS NOT NULL) AS embedded;

-- name: fragment_delete_for_document
-- Re-extraction (a retried extract job) replaces the fragments it wrote before.
DELETE FROM medley_fragment WHERE document_id = %(document_id)s;

-- name: fragment_insert
INSERT INTO medley_fragment (document_id, ordinal, start_offset, end_offset, tokens,
                             section, body)
VALUES (%(document_id)s, %(ordinal)s, %(start)s, %(end)s, %(tokens)s, %(section)s,
        %(body)s);

-- name: document_set_fragments
UPDATE medley_document
SET status = 'embedding', fragment_count = %(count)s, error = NULL, updated_at = now()
WHERE id = %(id)s;

-- name: fragment_ids_for_document
SELECT id FROM medley_fragment WHERE document_id = %(document_id)s ORDER BY ordinal;

-- name: fragment_get_many
SELECT id, body, tokens FROM medley_fragment WHERE id = ANY(%(ids)s) ORDER BY id;

-- name: fragment_set_embedding
UPDATE medley_fragment
SET model = %(model)s, embedding = %(embedding)s, embedded_at = now()
WHERE id = %(id)s;

-- name: fragment_set_embedding_pgvector
-- pgvector reads '[x,y,...]'; both columns are written, so the bytea path keeps working
-- if the extension is dropped.
UPDATE medley_fragment
SET model = %(model)s, embedding = %(embedding)s, embedding_vector = %(vector)s::vector,
    embedded_at = now()
WHERE id = %(id)s;

-- name: fragment_count_pending
-- Served by medley_fragment_pending_idx.
SELECT count(*) AS pending FROM medley_fragment
WHERE document_id = %(document_id)s AND embedding IS NULL;

-- name: fragment_scan
-- Keyset pages of one model's vectors (medley_fragment_model_idx), for similarity
-- without pgvector.
SELECT id, embedding FROM medley_fragment
WHERE model = %(model)s AND embedding IS NOT NULL AND id > %(after)s
ORDER BY id LIMIT %(limit)s;

-- name: fragment_similar_pgvector
-- <=> is cosine distance; vectors are unit length, so 1 - distance is their dot product.
SELECT id, 1 - (embedding_vector <=> %(query)s::vector) AS score
FROM medley_fragment
WHERE model = %(model)s AND embedding_vector IS NOT NULL
ORDER BY embedding_vector <=> %(query)s::vector
LIMIT %(k)s;

-- name: fragment_hits
SELECT f.id, f.document_id, d.name AS document, f.ordinal, f.start_offset, f.end_offset,
       f.section, f.body
FROM medley_fragment f JOIN medley_document d ON d.id = f.document_id
WHERE f.id = ANY(%(ids)s);

-- name: pgvector_present
SELECT EXISTS (
    SELECT 1 FROM information_schema.columns
    WHERE table_name = 'medley_fragment' AND column_name = 'embedding_vector'
      AND table_schema = current_schema()
) AS present;
