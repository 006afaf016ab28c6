-- Claims in enqueue order without sorting the whole queue (issue 22). With a backlog of ~10,000
-- post-call jobs, `jobs_claim` took ~10 ms per call: its one candidate query ORed pending and
-- lease-expired jobs, so no index gave the seq order and every claim sorted every open job.
-- Now each of the two kinds of claimable jobs is read in seq order from its own partial index
-- (at most p_limit of each, locked with SKIP LOCKED), and the earliest p_limit of both are
-- claimed, updated through the primary key (`= ANY (ARRAY(…))`: an `IN (subquery)` was planned
-- for the parameter's generic estimate as a scan of the whole table). Rules unchanged: due pending jobs and running jobs whose lease expired, in enqueue
-- order, a job with an order key only when no earlier open job of its key is outside the claim.
CREATE INDEX jobs_pending_in_order ON jobs (seq) WHERE status = 'pending';
CREATE INDEX jobs_running_in_order ON jobs (seq) WHERE status = 'running';

CREATE OR REPLACE FUNCTION jobs_claim(p_worker text, p_kinds text[], p_limit integer, p_lease_secs double precision)
    RETURNS TABLE (id uuid, org_id uuid, kind text, order_key text, payload jsonb, attempts integer)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        WITH pending AS (
            SELECT j.id, j.kind, j.order_key, j.seq
              FROM jobs j
             WHERE j.status = 'pending' AND j.run_at <= now() AND j.kind = ANY (p_kinds)
             ORDER BY j.seq
             LIMIT p_limit
               FOR UPDATE SKIP LOCKED),
        expired AS (
            SELECT j.id, j.kind, j.order_key, j.seq
              FROM jobs j
             WHERE j.status = 'running' AND j.locked_until < now() AND j.kind = ANY (p_kinds)
             ORDER BY j.seq
             LIMIT p_limit
               FOR UPDATE SKIP LOCKED),
        candidates AS (
            SELECT * FROM pending
            UNION ALL
            SELECT * FROM expired
             ORDER BY seq
             LIMIT p_limit),
        claimed AS (
            UPDATE jobs e
               SET status = 'running', attempts = e.attempts + 1, locked_by = p_worker,
                   locked_until = now() + make_interval(secs => p_lease_secs)
             WHERE e.id = ANY (ARRAY(
                       SELECT c.id FROM candidates c
                        WHERE c.order_key IS NULL
                           OR NOT EXISTS (
                               SELECT 1 FROM jobs o
                                WHERE o.kind = c.kind
                                  AND o.order_key = c.order_key
                                  AND o.status IN ('pending', 'running')
                                  AND o.seq < c.seq
                                  AND o.id NOT IN (SELECT id FROM candidates))))
            RETURNING e.id, e.org_id, e.kind, e.order_key, e.payload, e.attempts, e.seq)
        SELECT id, org_id, kind, order_key, payload, attempts FROM claimed ORDER BY seq
    $$;
