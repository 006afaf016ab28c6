-- An end-of-call report is acknowledged in one short transaction (issue 22): the call row is
-- written by provider id with the report's facts (its metadata then holds report_received_at,
-- as reports always wrote), and the post-call analysis is queued as a job in the same commit.
-- A redelivered report finds that mark through the unique index on vapi_call_id and changes
-- nothing (no row lock, no WAL).

-- A call status's rank: statuses only move forward.
CREATE FUNCTION vapi_call_status_rank(p_status text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE p_status WHEN 'pending' THEN 0 WHEN 'initiated' THEN 1 WHEN 'queued' THEN 2
                  WHEN 'ringing' THEN 3 WHEN 'in-progress' THEN 4 ELSE 5 END $$;

-- Inserts or advances a Vapi call's row (the only writer of Vapi call rows; crm::call_logs
-- calls it), in the caller's tenant transaction (SECURITY INVOKER: row-level security applies).
-- Links a call-back row we created (p_ours) to the Vapi id first, so both converge on one row.
-- Messages may arrive in any order: the status only moves forward (terminal statuses share the
-- top rank), known facts are kept. A new row is dated when the call started, if that is known
-- and not in the future. With p_report: returns no row when the call's report was stored
-- already (its metadata has report_received_at). No row either when the id belongs to another
-- organization.
CREATE FUNCTION call_logs_upsert_vapi(
    p_id uuid, p_org uuid, p_vapi_call_id text, p_ours uuid, p_contact_id uuid, p_phone text,
    p_caller_name text, p_unknown_name text, p_call_type text, p_status text,
    p_started_at timestamptz, p_ended_at timestamptz, p_metadata jsonb, p_report boolean)
    RETURNS TABLE (id uuid, status text, contact_id uuid, booking_confirmed boolean,
                   started_at timestamptz)
    LANGUAGE plpgsql SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF p_report AND EXISTS (SELECT 1 FROM call_logs c
                             WHERE c.vapi_call_id = p_vapi_call_id
                               AND c.metadata ? 'report_received_at') THEN
        RETURN;
    END IF;
    IF p_ours IS NOT NULL THEN
        UPDATE call_logs c SET vapi_call_id = p_vapi_call_id, call_sid = 'vapi-' || p_vapi_call_id
         WHERE c.org_id = p_org AND c.id = p_ours AND c.vapi_call_id IS NULL;
    END IF;
    RETURN QUERY
    INSERT INTO call_logs AS c (id, org_id, vapi_call_id, call_sid, contact_id, phone_number,
            from_number, caller_name, call_type, status, started_at, ended_at, metadata,
            created_at)
    VALUES (p_id, p_org, p_vapi_call_id, 'vapi-' || p_vapi_call_id, p_contact_id, p_phone,
            p_phone, COALESCE(p_caller_name, p_unknown_name), p_call_type, p_status,
            p_started_at, p_ended_at, p_metadata, LEAST(now(), COALESCE(p_started_at, now())))
    ON CONFLICT (vapi_call_id) DO UPDATE SET
        status = CASE WHEN vapi_call_status_rank(EXCLUDED.status) > vapi_call_status_rank(c.status)
                      THEN EXCLUDED.status ELSE c.status END,
        contact_id = COALESCE(c.contact_id, EXCLUDED.contact_id),
        phone_number = COALESCE(c.phone_number, EXCLUDED.phone_number),
        from_number = COALESCE(c.from_number, EXCLUDED.from_number),
        caller_name = CASE WHEN p_caller_name IS NULL THEN c.caller_name ELSE p_caller_name END,
        started_at = COALESCE(c.started_at, EXCLUDED.started_at),
        ended_at = COALESCE(EXCLUDED.ended_at, c.ended_at),
        metadata = c.metadata || EXCLUDED.metadata
     WHERE c.org_id = EXCLUDED.org_id
    RETURNING c.id, c.status, c.contact_id, c.booking_confirmed, c.started_at;
END $$;
REVOKE ALL ON FUNCTION call_logs_upsert_vapi(uuid, uuid, text, uuid, uuid, text, text, text, text,
    text, timestamptz, timestamptz, jsonb, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION call_logs_upsert_vapi(uuid, uuid, text, uuid, uuid, text, text, text,
    text, text, timestamptz, timestamptz, jsonb, boolean) TO platform_runtime;
