-- The AI pipeline's queries, SQLite dialect (named :parameters). Same names and meaning
-- as postgres.sql. Times are unix seconds passed in as :now (SQLite has no clock type);
-- id lists arrive as JSON arrays and are expanded with json_each (no array type).

-- name: document_upsert
-- No xmax in SQLite: a new row has created_at = updated_at, an existing one was touched.
INSERT INTO medley_document (name, source, media_type, content_hash, body, created_at,
                             updated_at)
VALUES (:name, :source, :media_type, :content_hash, :body, :now, :now)
ON CONFLICT (content_hash) DO UPDATE SET updated_at = max(:now, created_at + 1e-6)
RETURNING id, status, updated_at <> created_at AS existing;

-- name: document_get
SELECT id, name, source, media_type, status, fragment_count, error,
       length(body) AS chars, created_at, ready_at
FROM medley_document WHERE id = :id;

-- name: document_body
SELECT body FROM medley_document WHERE id = :id;

-- name: document_set_status
UPDATE medley_document
SET status = :status, error = :error, updated_at = :now,
    ready_at = CASE WHEN :status = 'ready' THEN :now ELSE ready_at END
WHERE id = :id
RETURNING id;

-- name: document_progress
SELECT d.id, d.name, d.status, d.fragment_count,
       count(f.embedding) AS embedded
FROM medley_document d
LEFT JOIN medley_fragment f ON f.document_id = d.id
WHERE d.id IN (SELECT value FROM json_each(:ids))
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
DELETE FROM medley_fragment WHERE document_id = :document_id;

-- name: fragment_insert
INSERT INTO medley_fragment (document_id, ordinal, start_offset, end_offset, tokens,
                             section, body)
VALUES (:document_id, :ordinal, :start, :end, :tokens, :section, :body);

-- name: document_set_fragments
UPDATE medley_document
SET status = 'embedding', fragment_count = :count, error = NULL, updated_at = :now
WHERE id = :id;

-- name: fragment_ids_for_document
SELECT id FROM medley_fragment WHERE document_id = :document_id ORDER BY ordinal;

-- name: fragment_get_many
SELECT id, body, tokens FROM medley_fragment
WHERE id IN (SELECT value FROM json_each(:ids)) ORDER BY id;

-- name: fragment_set_embedding
UPDATE medley_fragment
SET model = :model, embedding = :embedding, embedded_at = :now
WHERE id = :id;

-- name: fragment_set_embedding_pgvector
-- SQLite has no pgvector; the repository never runs this. Defined for name parity.
UPDATE medley_fragment
SET model = :model, embedding = :embedding, embedded_at = :now
WHERE id = :id;

-- name: fragment_count_pending
SELECT count(*) AS pending FROM medley_fragment
WHERE document_id = :document_id AND embedding IS NULL;

-- name: fragment_scan
SELECT id, embedding FROM medley_fragment
WHERE model = :model AND embedding IS NOT NULL AND id > :after
ORDER BY id LIMIT :limit;

-- name: fragment_similar_pgvector
-- SQLite has no pgvector; the repository scans with fragment_scan instead.
SELECT id, 0.0 AS score FROM medley_fragment WHERE 0;

-- name: fragment_hits
SELECT f.id, f.document_id, d.name AS document, f.ordinal, f.start_offset, f.end_offset,
       f.section, f.body
FROM medley_fragment f JOIN medley_document d ON d.id = f.document_id
WHERE f.id IN (SELECT value FROM json_each(:ids));

-- name: pgvector_present
SELECT 0 AS present;
