-- Queue reads keep their indexes (issue 22). A PL/pgSQL function plans each of its statements at
-- its first call on a connection and, after a few calls, keeps a generic plan for the
-- connection's life. `jobs_claim` is first called while `jobs` is empty or nearly so, when a
-- sequential scan and a sort look cheapest; when a backlog of thousands of jobs then builds up
-- (the hot-path benchmark's post-call backlog; any instance recovering from an outage), every
-- claim still scans the whole table: 17.7 ms a claim during the benchmark's drain, the most
-- expensive statement of the run. With sequential scans disabled inside these two functions
-- their plans follow the indexes made for them (`jobs_pending_in_order`,
-- `jobs_running_in_order`, `jobs_open_per_key`, the primary keys) whatever the table held when
-- they were planned. A queue's size swings by orders of magnitude; its reads must not depend on
-- the size it had at planning time.
ALTER FUNCTION jobs_claim(text, text[], integer, double precision) SET enable_seqscan = off;
ALTER FUNCTION realtime_events_since(bigint, bigint[], integer) SET enable_seqscan = off;
