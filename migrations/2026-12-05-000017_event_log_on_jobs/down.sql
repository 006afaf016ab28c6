ALTER TABLE webhook_events
    DROP CONSTRAINT webhook_events_status_check,
    ADD CONSTRAINT webhook_events_status_check CHECK (status IN ('pending', 'processing', 'done', 'dead')),
    ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN locked_by text,
    ADD COLUMN locked_until timestamptz;
CREATE INDEX webhook_events_pending_idx ON webhook_events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_events_leased_idx ON webhook_events (locked_until) WHERE status = 'processing';
CREATE INDEX webhook_events_open_per_call ON webhook_events (app_id, (payload -> 'call_id'), received_at)
    WHERE status IN ('pending', 'processing');
DELETE FROM jobs WHERE kind = 'dialpad.event';
CREATE FUNCTION webhook_events_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN PERFORM pg_notify('webhook_events', ''); RETURN NULL; END $$;
CREATE TRIGGER webhook_events_wake AFTER INSERT ON webhook_events
    FOR EACH ROW EXECUTE FUNCTION webhook_events_notify();
CREATE FUNCTION webhook_events_claim(p_worker text, p_limit integer, p_lease_secs double precision)
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
REVOKE ALL ON FUNCTION webhook_events_claim(text, integer, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION webhook_events_claim(text, integer, double precision) TO platform_runtime;
