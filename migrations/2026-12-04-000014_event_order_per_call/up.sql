-- Events of one Dialpad call are processed in arrival order (decision 34): an event is not
-- claimed while an earlier event of the same call (same app, same payload `call_id`) is still
-- pending or processing outside the batch being claimed (in it, the batch's own order holds). Two workers could otherwise apply a call's `hangup` before its
-- `ringing`, and the ring would never be published (a status only moves forward). Events
-- without a `call_id` are never held back.
CREATE INDEX webhook_events_open_per_call ON webhook_events (app_id, (payload -> 'call_id'), received_at)
    WHERE status IN ('pending', 'processing');

CREATE OR REPLACE FUNCTION webhook_events_claim(p_worker text, p_limit integer, p_lease_secs double precision)
    RETURNS TABLE (id uuid, org_id uuid, app_id uuid, event_type text, payload jsonb, attempts integer)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        WITH candidates AS (
            SELECT w.id, w.app_id, w.payload -> 'call_id' AS call_id, w.received_at
              FROM webhook_events w
             WHERE (w.status = 'pending' AND w.next_attempt_at <= now())
                OR (w.status = 'processing' AND w.locked_until < now())
             ORDER BY w.received_at
             LIMIT p_limit
               FOR UPDATE SKIP LOCKED),
        claimed AS (
            UPDATE webhook_events e
               SET status = 'processing', attempts = e.attempts + 1, locked_by = p_worker,
                   locked_until = now() + make_interval(secs => p_lease_secs)
             WHERE e.id IN (SELECT c.id FROM candidates c
                             WHERE NOT EXISTS (
                                 SELECT 1 FROM webhook_events o
                                  WHERE o.app_id = c.app_id
                                    AND o.payload -> 'call_id' = c.call_id
                                    AND o.status IN ('pending', 'processing')
                                    AND o.received_at < c.received_at
                                    AND o.id NOT IN (SELECT id FROM candidates)))
            RETURNING e.id, e.org_id, e.app_id, e.event_type, e.payload, e.attempts, e.received_at)
        -- In arrival order within the batch (UPDATE ... RETURNING has no order of its own).
        SELECT id, org_id, app_id, event_type, payload, attempts FROM claimed ORDER BY received_at
    $$;
