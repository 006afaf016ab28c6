-- The claim of migration 000023, committing synchronously.
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
