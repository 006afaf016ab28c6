DROP INDEX webhook_events_open_per_call;

CREATE OR REPLACE FUNCTION webhook_events_claim(p_worker text, p_limit integer, p_lease_secs double precision)
    RETURNS TABLE (id uuid, org_id uuid, app_id uuid, event_type text, payload jsonb, attempts integer)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        WITH claimed AS (
            UPDATE webhook_events e
               SET status = 'processing', attempts = e.attempts + 1, locked_by = p_worker,
                   locked_until = now() + make_interval(secs => p_lease_secs)
             WHERE e.id IN (SELECT w.id FROM webhook_events w
                             WHERE (w.status = 'pending' AND w.next_attempt_at <= now())
                                OR (w.status = 'processing' AND w.locked_until < now())
                             ORDER BY w.received_at
                             LIMIT p_limit
                               FOR UPDATE SKIP LOCKED)
            RETURNING e.id, e.org_id, e.app_id, e.event_type, e.payload, e.attempts, e.received_at)
        -- In arrival order within the batch (UPDATE ... RETURNING has no order of its own).
        SELECT id, org_id, app_id, event_type, payload, attempts FROM claimed ORDER BY received_at
    $$;
