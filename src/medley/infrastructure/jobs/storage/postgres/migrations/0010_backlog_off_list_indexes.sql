-- Medley schema, version 10: a new job pays for two index entries, not four (issue #2,
-- bulk enqueue speed).
--
-- A job is born enqueued or scheduled, and medley_job_state_idx (state, id) and
-- medley_job_name_idx (job, id) each took an entry for it at once. The server's share of a
-- bulk COPY was ~8 us per job, ~1.2-2 us of it for each of these two. They now hold only
-- the jobs that left the backlog: a job's first claim is never a HOT update (state is
-- indexed), so it writes a new entry in every index anyway, and these two entries now come
-- with it instead of at enqueue. A job that is claimed and run pays the same as before; an
-- enqueue pays two entries fewer. Measured on the benchmark machine: bulk enqueue 93k ->
-- 115k jobs/s.
--
-- The backlog's own rows are listed through medley_job_fetch_free_idx and
-- medley_job_limited_idx (or the primary key, where the backlog is dense among the newest
-- jobs): job_search splits a listing that could include them into halves the planner can
-- match to these partial indexes. That costs time in proportion to the backlog (a page of
-- one job name's jobs with a million waiting: ~0.1-0.2 s), where the full indexes read a
-- page's worth.
--
-- As in 0009, the new indexes are built before anything is dropped (the build lets readers
-- through but holds writers back until this migration commits).
CREATE INDEX medley_job_state_idx_new ON medley_job (state, id)
    WHERE state NOT IN ('enqueued', 'scheduled');
CREATE INDEX medley_job_name_idx_new ON medley_job (job, id)
    WHERE state NOT IN ('enqueued', 'scheduled');
DROP INDEX medley_job_state_idx;
DROP INDEX medley_job_name_idx;
ALTER INDEX medley_job_state_idx_new RENAME TO medley_job_state_idx;
ALTER INDEX medley_job_name_idx_new RENAME TO medley_job_name_idx;
