CREATE TABLE calendar_sync_jobs (
    id              uuid        PRIMARY KEY,
    org_id          uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    appointment_id  uuid        NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    action          text        NOT NULL CHECK (action IN ('upsert', 'delete')),
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calendar_sync_jobs_due_idx ON calendar_sync_jobs (next_attempt_at) WHERE status = 'pending';
ALTER TABLE calendar_sync_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE calendar_sync_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON calendar_sync_jobs
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER calendar_sync_jobs_updated_at BEFORE UPDATE ON calendar_sync_jobs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON calendar_sync_jobs TO platform_runtime;

-- Claims due calendar jobs of every organization for one worker pass: each claimed job's
-- next_attempt_at moves lease seconds ahead, so a worker that dies releases it by expiry.
CREATE FUNCTION calendar_sync_claim(p_limit integer, p_lease_secs double precision)
    RETURNS TABLE (id uuid, org_id uuid)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    WITH due AS (
        SELECT j.id FROM calendar_sync_jobs j
        WHERE j.status = 'pending' AND j.next_attempt_at <= now()
        ORDER BY j.next_attempt_at
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE calendar_sync_jobs j
    SET next_attempt_at = now() + make_interval(secs => p_lease_secs)
    FROM due WHERE j.id = due.id
    RETURNING j.id, j.org_id;
$$;
REVOKE ALL ON FUNCTION calendar_sync_claim(integer, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION calendar_sync_claim(integer, double precision) TO platform_runtime;

DELETE FROM jobs WHERE kind = 'calendar.sync';
