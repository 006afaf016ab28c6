-- A claim commits without waiting for its WAL flush (issue 21's delivery latency, issue 22's
-- WAL flushes per request). A claim only leases jobs: if a crash loses it, the jobs are as they
-- were before it (pending, or running under an expired lease) and are claimed again, which the
-- runner already allows (effects are exactly once because each job's effects and its completion
-- commit together, synchronously). So the claim's transaction sets `synchronous_commit = off`
-- for itself: the next synchronous commit (the job's own, usually milliseconds later) or the WAL
-- writer (within `wal_writer_delay`) makes it durable, and a job waits for one flush (its
-- effects) instead of two (its claim, then its effects). `set_config(…, true)` lasts to the end of the
-- calling transaction (the function's own `SET search_path` clause restores only that setting).
-- Unchanged otherwise (migration 000023).
CREATE OR REPLACE FUNCTION jobs_claim(p_worker text, p_kinds text[], p_limit integer, p_lease_secs double precision)
    RETURNS TABLE (id uuid, org_id uuid, kind text, order_key text, payload jsonb, attempts integer)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT set_config('synchronous_commit', 'off', true);
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
