-- Back to the LANGUAGE sql bodies of migrations 000029, 000021 and 000002.
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

CREATE OR REPLACE FUNCTION realtime_events_since(p_after bigint, p_missing bigint[], p_limit integer)
    RETURNS SETOF realtime_events
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ (SELECT * FROM realtime_events WHERE seq = ANY (p_missing))
          UNION ALL
          (SELECT * FROM realtime_events WHERE seq > p_after ORDER BY seq LIMIT p_limit)
          ORDER BY seq $$;

CREATE OR REPLACE FUNCTION auth_session_check(p_session uuid, p_org uuid, p_user uuid, p_stale_secs double precision)
    RETURNS TABLE (token_hash bytea, role text, stale boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT s.token_hash, u.role, s.last_seen_at < now() - make_interval(secs => p_stale_secs)
          FROM user_sessions s
          JOIN users u ON u.id = s.user_id AND u.org_id = s.org_id
         WHERE s.id = p_session AND s.org_id = p_org AND s.user_id = p_user
           AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active
    $$;
