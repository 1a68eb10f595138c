-- Medley schema, version 8: job inserts count themselves (issue #2, enqueue speed).
--
-- The statement-level insert trigger of migration 0004 cost a single enqueue more than the
-- insert itself: ~250 us against ~160 us for the whole INSERT, history row and NOTIFY on
-- the benchmark machine (a PL/pgSQL call, a transition table, and one compaction in 32).
-- The only three statements that insert jobs (job_insert_one, job_insert_many and the
-- bulk COPY's job_copy_finish) now append their per-(queue, state) delta themselves, in
-- the same statement or transaction, so counts stay exact. Compaction stays with the
-- update and delete triggers: every enqueued job is later claimed, which compacts.
DROP TRIGGER medley_job_stat_insert ON medley_job;
DROP FUNCTION medley_job_stat_insert();

-- Appended to and folded away whole: the serial key and its index were never read.
ALTER TABLE medley_stat_delta DROP COLUMN id;
