-- Back to 000016's claim (one candidate query over pending and lease-expired jobs).
CREATE OR REPLACE FUNCTION jobs_claim(p_worker text, p_kinds text[], p_limit integer, p_lease_secs double precision)
    RETURNS TABLE (id uuid, org_id uuid, kind text, order_key text, payload jsonb, attempts integer)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        WITH candidates AS (
            SELECT j.id, j.kind, j.order_key, j.seq
              FROM jobs j
             WHERE j.kind = ANY (p_kinds)
               AND ((j.status = 'pending' AND j.run_at <= now())
                 OR (j.status = 'running' AND j.locked_until < now()))
             ORDER BY j.seq
             LIMIT p_limit
               FOR UPDATE SKIP LOCKED),
        claimed AS (
            UPDATE jobs e
               SET status = 'running', attempts = e.attempts + 1, locked_by = p_worker,
                   locked_until = now() + make_interval(secs => p_lease_secs)
             WHERE e.id IN (SELECT c.id FROM candidates c
                             WHERE c.order_key IS NULL
                                OR NOT EXISTS (
                                    SELECT 1 FROM jobs o
                                     WHERE o.kind = c.kind
                                       AND o.order_key = c.order_key
                                       AND o.status IN ('pending', 'running')
                                       AND o.seq < c.seq
                                       AND o.id NOT IN (SELECT id FROM candidates)))
            RETURNING e.id, e.org_id, e.kind, e.order_key, e.payload, e.attempts, e.seq)
        SELECT id, org_id, kind, order_key, payload, attempts FROM claimed ORDER BY seq
    $$;
DROP INDEX jobs_running_in_order;
DROP INDEX jobs_pending_in_order;
