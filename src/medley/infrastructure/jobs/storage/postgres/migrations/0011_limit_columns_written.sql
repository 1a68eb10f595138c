-- Medley schema, version 11: a job's limit columns are written with it, no longer
-- generated from its meta (issue #2, bulk enqueue speed).
--
-- A stored generated column makes the server form each new row twice: ~0.25 us of the
-- ~5 us a job's COPY costs it (bulk enqueue +4% in the benchmark). The inserts now write
-- the same values they were generated from: `meta ->> 'limit'` and
-- `coalesce(meta ->> 'limit_key', '')`, in SQL where the meta is a parameter, and from the
-- same dict where a COPY sends text. Nothing updates a job's meta. Dropping the expression
-- keeps every row's value and neither rewrites nor scans the table (PostgreSQL 13+).
ALTER TABLE medley_job ALTER COLUMN limit_name DROP EXPRESSION;
ALTER TABLE medley_job ALTER COLUMN limit_key DROP EXPRESSION;
ALTER TABLE medley_job ALTER COLUMN limit_key SET DEFAULT '';
