-- The jobs table without `jobs_due` (issue 22). Since migration 000023 the runner's claim reads
-- pending jobs in enqueue order from `jobs_pending_in_order` and checks `run_at` on the way;
-- `jobs_due (run_at)` served no query: one scan in a whole hot-path benchmark run (a plan made
-- while the table was empty), against an index insertion for every job enqueued (one per
-- acknowledged report). What it would serve, jobs due by time regardless of order, no code asks.
DROP INDEX jobs_due;
